"""This app is never the reason a JumpCloud account gets locked: the service account is never tried
through the form, and one username gets LDAP_MAX_FAILURES_PER_USER failed guesses from all
addresses together before it is refused without the directory being asked."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db.models import F
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone

from devstack.testing import sign_in
from identity import decisions, throttle
from identity.forms import GENERIC_ERROR, TOO_MANY_AT_ONCE_ERROR, username_lockout_error
from identity.models import GuessInFlight
from ldap_seed import SERVICE_PASSWORD, SERVICE_UID, user_dn
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.django_db
BUDGET = 3
GRACE = BY_UID["grace"]


@pytest.fixture(autouse=True)
def _budget() -> Iterator[None]:
    with override_settings(LDAP_MAX_FAILURES_PER_USER=BUDGET, AXES_FAILURE_LIMIT=100):
        yield


def from_address(number: int) -> Client:
    return Client(REMOTE_ADDR=f"192.0.2.{number}")


def binds_of(directory: JumpCloudDirectory, offset: int, uid: str) -> int:
    """Binds as ``uid`` in slapd's statistics log since ``offset``."""
    text = directory.log_path.read_bytes()[offset:].decode(errors="replace")
    return text.count(f'BIND dn="uid={uid},')


def audit_reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "identity.audit"]


def test_the_service_account_is_refused_at_once_without_a_bind(
    own_directory: JumpCloudDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    offset = own_directory.log_size()
    for spelling in (SERVICE_UID, SERVICE_UID.upper(), f" {SERVICE_UID} "):
        response = sign_in(Client(), spelling, SERVICE_PASSWORD)
        assert response.status_code == 200
        assert GENERIC_ERROR in response.content.decode()
    assert own_directory.operations_since(offset)["BIND"] == 0
    assert audit_reasons(caplog)[0] == f"sign-in denied for {SERVICE_UID!r} from 127.0.0.1: the service account"


def test_a_username_is_refused_after_its_budget_from_any_address(
    own_directory: JumpCloudDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    offset = own_directory.log_size()
    for number in range(BUDGET):
        sign_in(from_address(number), GRACE.uid, "a-wrong-guess")
    response = sign_in(from_address(99), GRACE.uid, GRACE.password)
    assert response.status_code == 429
    assert username_lockout_error() in response.content.decode()
    assert binds_of(own_directory, offset, GRACE.uid) == BUDGET
    assert audit_reasons(caplog)[-1] == "sign-in denied for 'grace' from 192.0.2.99: username locked out"


def test_an_unknown_username_is_refused_the_same_way(client: Client) -> None:
    for number in range(BUDGET):
        sign_in(from_address(number), "nobody-here", "a-wrong-guess")
    response = sign_in(from_address(99), "nobody-here", "a-wrong-guess")
    assert response.status_code == 429
    assert username_lockout_error() in response.content.decode()


def test_refusals_do_not_extend_the_lock_and_it_lifts_after_the_cool_off(client: Client) -> None:
    for number in range(BUDGET):
        sign_in(from_address(number), GRACE.uid, "a-wrong-guess")
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=10))
    assert sign_in(from_address(50), GRACE.uid, GRACE.password).status_code == 429
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=6))
    assert sign_in(from_address(50), GRACE.uid, GRACE.password).status_code == 302


def test_an_admin_lifts_the_lock_with_axes_reset_username(client: Client) -> None:
    for number in range(BUDGET):
        sign_in(from_address(number), GRACE.uid, "a-wrong-guess")
    call_command("axes_reset_username", GRACE.uid)
    assert sign_in(from_address(99), GRACE.uid, GRACE.password).status_code == 302


def test_guesses_in_flight_count_but_do_not_lock(client: Client) -> None:
    for number in range(BUDGET):  # three sign-ins of grace on their way to the directory elsewhere
        GuessInFlight.objects.create(username=GRACE.uid, ip_address=f"192.0.2.{number}", started_at=timezone.now())
    response = sign_in(client, GRACE.uid, GRACE.password)
    assert response.status_code == 429
    assert TOO_MANY_AT_ONCE_ERROR in response.content.decode()
    GuessInFlight.objects.all().delete()  # they ended
    assert sign_in(client, GRACE.uid, GRACE.password).status_code == 302


def test_a_guess_whose_process_died_stops_counting_after_a_minute(client: Client) -> None:
    long_ago = timezone.now() - timedelta(minutes=2)
    for number in range(BUDGET):
        GuessInFlight.objects.create(username=GRACE.uid, ip_address=f"192.0.2.{number}", started_at=long_ago)
    assert sign_in(client, GRACE.uid, GRACE.password).status_code == 302
    assert not GuessInFlight.objects.exists()  # and the guess that settled took them away


def test_an_inactive_account_leaves_nothing_in_flight(client: Client) -> None:
    ken = BY_UID["ken"]  # the right password, refused by the form as inactive
    for _ in range(BUDGET + 2):
        response = sign_in(client, ken.uid, ken.password)
        assert response.status_code == 200
        assert GENERIC_ERROR in response.content.decode()
    assert not GuessInFlight.objects.exists()


def test_an_accepted_password_leaves_nothing_in_flight_without_login() -> None:
    # authenticate() without login(), as a script or the property test calls it: no signal fires.
    for _ in range(BUDGET + 1):
        assert authenticate(RequestFactory().post("/login/"), username=GRACE.uid, password=GRACE.password) is not None
    assert not GuessInFlight.objects.exists()


@override_settings(AXES_FAILURE_LIMIT=2, LDAP_MAX_FAILURES_PER_USER=10)
def test_a_second_uid_value_shares_the_budget_of_the_name_from_one_address(own_directory: JumpCloudDirectory) -> None:
    # From one address the entry's budget holds whichever of its uid values is typed, also when
    # the per-address limit is the lower one (found by a reviewer: 5 binds against a limit of 2).
    own_directory.modify(f"dn: {user_dn(GRACE.uid)}\nchangetype: modify\nadd: uid\nuid: gracie\n")
    client = from_address(50)
    offset = own_directory.log_size()
    statuses = [sign_in(client, name, "a-wrong-guess").status_code for name in ["grace", "gracie", "gracie", "grace"]]
    assert binds_of(own_directory, offset, GRACE.uid) == 2, statuses
    assert statuses == [200, 429, 429, 429]  # the second failure locks, as django-axes answers it


@pytest.mark.parametrize("name", ["ß" * 150, "ß" * 128])
def test_a_name_longer_than_the_lockout_columns_once_folded_is_refused_and_counted(client: Client, name: str) -> None:
    # 150 characters typed, up to 300 once case-folded: never a 500 (PostgreSQL refused the row as
    # too long), and its failures count against it (LDAP_MAX_FAILURES_PER_USER, 3 here).
    statuses = [sign_in(client, name, "a-wrong-guess").status_code for _ in range(BUDGET + 1)]
    assert statuses == [200] * BUDGET + [429], statuses
    assert not GuessInFlight.objects.exists()


@pytest.mark.parametrize("name", ["ß" * 150, "\ufdfa" * 15])
def test_guesses_in_flight_of_a_name_longer_than_the_columns_count(name: str) -> None:
    # Found by a reviewer on PostgreSQL: the row's name was cut to the column, so the guesses of the
    # whole name in flight were never counted and all four went on.
    outcomes = []
    for _ in range(BUDGET + 1):
        request = RequestFactory().post("/login/")
        request.axes_ip_address = "192.0.2.1"  # type: ignore[attr-defined]
        try:
            throttle.count_guess_in_advance(request, {"username": name})
            outcomes.append("on its way")
        except throttle.RefusedBeforeTheDirectory:
            outcomes.append(decisions.recorded(request).reason)  # type: ignore[union-attr]
    assert outcomes == ["on its way"] * BUDGET + [decisions.TOO_MANY_AT_ONCE]


@pytest.mark.parametrize(("locked", "typed"), [(GRACE.uid, "GRACE"), ("ß" * 150, "ß" * 150), ("ß" * 150, "SS" * 150)])
def test_an_admin_lifts_the_lock_of_a_name_however_it_is_written(client: Client, locked: str, typed: str) -> None:
    # django-axes' axes_reset_username matches the stored key exactly: neither GRACE nor a name
    # stored by its digest (accounts.lockout_key) could be lifted with it (found by a reviewer).
    for _ in range(BUDGET):
        sign_in(from_address(60), locked, "a-wrong-guess")
    assert sign_in(client, locked, "a-wrong-guess").status_code == 429
    out = io.StringIO()
    call_command("lockout_reset", typed, stdout=out)
    assert "1 lockout record removed" in out.getvalue()  # one address, one browser: one record
    assert sign_in(client, locked, "a-wrong-guess").status_code == 200


def test_lockout_reset_lifts_an_address_however_it_is_written() -> None:
    with override_settings(AXES_FAILURE_LIMIT=1):
        assert sign_in(Client(REMOTE_ADDR="2001:db8::7"), GRACE.uid, "a-wrong-guess").status_code == 429
        assert sign_in(Client(REMOTE_ADDR="2001:db8::7"), GRACE.uid, GRACE.password).status_code == 429
        call_command("lockout_reset", "--ip", "2001:DB8:0:0:0:0:0:7", stdout=io.StringIO())
        assert sign_in(Client(REMOTE_ADDR="2001:db8::7"), GRACE.uid, GRACE.password).status_code == 302


@pytest.mark.parametrize("blank", ["", " ", "\t", "\u3000", "\u00a0"])
def test_lockout_reset_of_a_blank_name_lifts_nothing(blank: str) -> None:
    # Found by a reviewer: django-axes' reset with an empty username filters nothing, so a blank
    # name (after its canonical form) lifted every lock there was.
    for _ in range(BUDGET):
        sign_in(from_address(61), GRACE.uid, "a-wrong-guess")
    with pytest.raises(CommandError, match="names no username"):
        call_command("lockout_reset", blank, "--ip", "192.0.2.61", stdout=io.StringIO())
    assert AccessAttempt.objects.filter(username=GRACE.uid).exists()


def test_lockout_reset_says_what_it_needs() -> None:
    with pytest.raises(CommandError, match="name at least one"):
        call_command("lockout_reset")
    with pytest.raises(CommandError, match="is not an IP address"):
        call_command("lockout_reset", "--ip", "not-an-address")
