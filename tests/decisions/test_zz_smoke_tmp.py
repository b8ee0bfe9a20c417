import time
from decisions.models import Decision
from decisions.pipeline import request_submit
from requests.models import AccessRequest

def test_smoke(requester, roles, no_ai, celery_worker):
    ident = requester.identity
    ar = request_submit(requester=requester, identity=ident, role=roles["low"], justification="smoke test please", duration_hours=1)
    t = time.monotonic()
    while time.monotonic() - t < 30:
        d = Decision.objects.filter(request_id=ar.pk).first()
        if d: break
        time.sleep(0.1)
    print("took", time.monotonic() - t)
    assert d is not None
    print(d.verdict, d.engine, d.ai_error)

def test_smoke2(requester, roles, no_ai, celery_worker):
    test_smoke(requester, roles, no_ai, celery_worker)
