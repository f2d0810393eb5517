"""Guesses that arrive at once are counted as they start: 64 simultaneous wrong passwords put at
most AXES_FAILURE_LIMIT binds of the person on the directory from one address, and at most
LDAP_MAX_FAILURES_PER_USER from many. Under gunicorn (2 workers x 4 threads, as deployed), with
the binds counted in slapd's own statistics log."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from devstack.browser import Browser, sign_ins_at_once
from devstack.native import NativeStack
from devstack.testing import add_user
from ldap_seed import user_dn
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.stack

AT_ONCE = 64
PER_ADDRESS = 5
PER_USERNAME = 8


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, directory: JumpCloudDirectory) -> Iterator[NativeStack]:
    native = NativeStack(tmp_path_factory.mktemp("simultaneous") / "run")
    native.up_against(
        directory.ldap_uri,
        directory.cafile,
        AXES_FAILURE_LIMIT=str(PER_ADDRESS),
        LDAP_MAX_FAILURES_PER_USER=str(PER_USERNAME),
        LOG_LEVEL="WARNING",
    )
    yield native
    native.down()


def binds_of(directory: JumpCloudDirectory, offset: int, uid: str) -> int:
    text = directory.log_path.read_bytes()[offset:].decode(errors="replace")
    return len(re.findall(rf'BIND dn="uid={uid},', text))


def guess_all_at_once(stack: NativeStack, uid: str | list[str], sources: list[str]) -> list[int]:
    """A wrong password from each source address, all posted at the same moment (``uid`` a list:
    the browsers take its names in turn); the statuses."""
    browsers = [Browser("127.0.0.1", stack.app_port, source=source) for source in sources]
    answers = sign_ins_at_once(browsers, [uid] if isinstance(uid, str) else uid, "a-wrong-guess")
    for browser in browsers:
        browser.close()
    return [answer.status for answer in answers]


def test_simultaneous_guesses_from_one_address_reach_the_directory_at_most_the_limit(
    stack: NativeStack, directory: JumpCloudDirectory
) -> None:
    offset = directory.log_size()
    statuses = guess_all_at_once(stack, BY_UID["linus"].uid, ["127.0.0.1"] * AT_ONCE)
    assert set(statuses) <= {200, 429}
    assert binds_of(directory, offset, "linus") == PER_ADDRESS
    again = guess_all_at_once(stack, BY_UID["linus"].uid, ["127.0.0.1"] * AT_ONCE)
    assert set(again) == {429}, "locked: every one refused"
    assert binds_of(directory, offset, "linus") == PER_ADDRESS


def test_simultaneous_guesses_from_many_addresses_reach_the_directory_at_most_the_username_budget(
    stack: NativeStack, directory: JumpCloudDirectory
) -> None:
    offset = directory.log_size()
    statuses = guess_all_at_once(stack, BY_UID["grace"].uid, [f"127.0.1.{n}" for n in range(1, AT_ONCE + 1)])
    assert set(statuses) <= {200, 429}
    assert binds_of(directory, offset, "grace") == PER_USERNAME


def test_simultaneous_guesses_over_an_entrys_several_uid_values_share_its_budget(
    stack: NativeStack, directory: JumpCloudDirectory
) -> None:
    # Each spelling is counted in flight under the name typed; after the search, under the entry's
    # own name, so the four spellings share one budget (before: up to the budget for each spelling).
    spellings = ["multi", "multi-b", "multi-c", "multi-d"]
    add_user(directory, "multi", 7777)  # in no group: the directory's other readers see no member more
    directory.modify(
        f"dn: {user_dn('multi')}\nchangetype: modify\nadd: uid\n" + "".join(f"uid: {s}\n" for s in spellings[1:])
    )
    try:
        offset = directory.log_size()
        statuses = guess_all_at_once(stack, spellings, [f"127.0.2.{n}" for n in range(1, AT_ONCE + 1)])
        assert set(statuses) <= {200, 429}
        assert binds_of(directory, offset, "multi") <= PER_USERNAME
    finally:
        directory.modify(f"dn: {user_dn('multi')}\nchangetype: delete\n")
