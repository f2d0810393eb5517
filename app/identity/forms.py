from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator

from identity import breaker, decisions, throttle

# One answer for every refusal, so the form cannot be used to learn which accounts exist or
# why one was refused. The reason is written to the audit log.
GENERIC_ERROR = "Sign-in failed. Check your username and password and try again."
UNAVAILABLE_ERROR = (
    "The directory cannot be reached right now, so nobody can sign in with it. Please try again in a few minutes."
)

TOO_MANY_AT_ONCE_ERROR = "Too many sign-ins for this username at once. Try again in a moment."


def lockout_error() -> str:
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return f"Too many failed sign-ins. Sign-in is locked for this username and address; try again in {minutes} minutes."


def username_lockout_error() -> str:
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return f"Too many failed sign-ins for this username. Sign-in is locked for it; try again in {minutes} minutes."


class SignInForm(AuthenticationForm):
    error_messages = {"invalid_login": GENERIC_ERROR, "inactive": GENERIC_ERROR}
    remember_me = forms.BooleanField(
        required=False, label="Remember me", help_text="Stay signed in on this browser after it closes."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # AuthenticationForm sets max_length after the field is built, so no validator enforces
        # it; without one, a 1,000-character name would travel to the directory.
        username = cast(forms.CharField, self.fields["username"])
        username.validators.append(MaxLengthValidator(username.max_length))

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or self.data.get("username") or "")[:150]
        if self.errors:  # a field was refused (empty, too long, a NUL) before any backend saw it
            decisions.log(self.request, decisions.DENIED, username, decisions.Decision(decisions.INVALID_INPUT))
            return super().clean()
        if self.request is not None:
            throttle.settle_at_login(self.request)  # accepted: SignInView.form_valid's transaction
        try:
            with breaker.deadline():  # LDAP_TIMEOUT bounds the whole sign-in (identity.breaker)
                cleaned = super().clean()
        except ValidationError:
            throttle.settle_what_is_left(self.request)
            decision = self._refusal()
            outcome = decisions.UNAVAILABLE if decision.directory_away else decisions.DENIED
            decisions.log(self.request, outcome, username, decision)
            raise ValidationError(self._message_for(decision), code="invalid_login") from None
        user = self.get_user()
        source = "directory" if user is not None and not user.has_usable_password() else "local account"
        decisions.log(self.request, decisions.SUCCESS, username, decisions.Decision("", source))
        return cleaned

    def confirm_login_allowed(self, user: User) -> None:
        if not user.is_active:
            decisions.record(self.request, decisions.INACTIVE)
        super().confirm_login_allowed(user)

    def _refusal(self) -> decisions.Decision:
        recorded = decisions.recorded(self.request)
        if recorded is not None and recorded.refused_before_directory:  # identity.throttle
            return recorded
        if getattr(self.request, "axes_locked_out", False):
            return decisions.Decision(decisions.LOCKED_OUT)
        return decisions.recorded(self.request) or decisions.Decision(decisions.UNKNOWN_USER)

    @staticmethod
    def _message_for(decision: decisions.Decision) -> str:
        if decision.reason == decisions.LOCKED_OUT:
            return lockout_error()
        if decision.reason == decisions.USERNAME_LOCKED:
            return username_lockout_error()
        if decision.reason == decisions.TOO_MANY_AT_ONCE:
            return TOO_MANY_AT_ONCE_ERROR
        if decision.directory_away:
            return UNAVAILABLE_ERROR
        return GENERIC_ERROR
