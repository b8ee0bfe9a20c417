"""Portal logins are activity: a sign-in refreshes the linked identity's last activity."""

from django.contrib.auth.signals import user_logged_in
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone


@receiver(user_logged_in)
def record_login_activity(sender, request, user, **kwargs):
    from requests.models import Identity

    now = timezone.now()
    Identity.objects.filter(Q(last_activity__lt=now) | Q(last_activity__isnull=True), user=user).update(
        last_activity=now
    )
