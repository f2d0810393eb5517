from __future__ import annotations

import logging
from typing import Any, cast

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.core.validators import MaxLengthValidator

log = logging.getLogger("identity.signin")

# One answer for every refusal, so the form cannot be used to learn which accounts exist or
# why one was refused. The reason is logged (here and by django-auth-ldap).
GENERIC_ERROR = "Sign-in failed. Check your username and password and try again."


class SignInForm(AuthenticationForm):
    error_messages = {"invalid_login": GENERIC_ERROR, "inactive": GENERIC_ERROR}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # AuthenticationForm sets max_length after the field is built, so no validator enforces
        # it; without one, a 1,000-character name would travel to the directory.
        username = cast(forms.CharField, self.fields["username"])
        username.validators.append(MaxLengthValidator(username.max_length))

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except Exception:
            log.warning("sign-in refused for %r from %s", self.cleaned_data.get("username"), _client(self.request))
            raise

    def confirm_login_allowed(self, user: User) -> None:
        if not user.is_active:
            log.warning("sign-in refused for %r: account is inactive (not in the active group)", user.get_username())
        super().confirm_login_allowed(user)


def _client(request: Any) -> str:
    return request.META.get("REMOTE_ADDR", "-") if request is not None else "-"
