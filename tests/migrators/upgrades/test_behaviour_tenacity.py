"""Behaviour: a module migrated by the tool keeps raising RetryError where it did before (TN-5),
and its statistics are read where tenacity 9 keeps them (TN-2). Runs on tenacity 9.2.1."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

from tests.migrators.helpers import dedent, migrate_twice, python_output, read, write_tree

MODULE = """

from tenacity import RetryError, retry, stop_after_attempt, wait_none, wait_random_exponential
from tenacity._asyncio import AsyncRetrying

calls = []


@retry(stop=stop_after_attempt(3), wait=wait_none())
def flaky():
    calls.append(1)
    raise ValueError("down")


@retry(stop=stop_after_attempt(2), wait=wait_random_exponential(multiplier=0.001, max=0.002, min=0.001))
def ok():
    return "up"


def run():
    try:
        flaky()
    except RetryError as exc:
        return ("RetryError", exc.last_attempt.attempt_number, type(exc.last_attempt.exception()).__name__,
                flaky.retry.statistics["attempt_number"], ok(), tenacity.iscoroutinefunction(ok),
                AsyncRetrying.__name__)
    except ValueError:
        return ("ValueError",)
"""


def test_migrated_module_keeps_raising_retryerror(tmp_path):
    # the behaviour below is tenacity 9's: on another version this test would prove nothing
    assert metadata.version("tenacity") == "9.2.1"
    write_tree(tmp_path, {"svc/retrying.py": MODULE, "requirements.txt": "tenacity==8.2.3\n"})
    result = migrate_twice(tmp_path, only=["tenacity"])
    migrated = read(tmp_path, "svc/retrying.py")
    assert "reraise" not in migrated
    assert "flaky.statistics" in migrated and "from tenacity import AsyncRetrying" in migrated
    assert not result.markers
    assert (
        python_output("import retrying; print(retrying.run())", tmp_path / "svc")
        == "('RetryError', 3, 'ValueError', 3, 'up', False, 'AsyncRetrying')"
    )
    # the unmigrated module does not even import on tenacity 9 (tenacity._asyncio is gone)
    (tmp_path / "old").mkdir()
    (tmp_path / "old/retrying.py").write_text(MODULE)
    old = subprocess.run(
        [sys.executable, "-c", "import retrying"],
        cwd=tmp_path / "old",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert old.returncode != 0 and "tenacity._asyncio" in old.stderr


SLEEPERS = """
import asyncio
import inspect

from tenacity import retry, stop_after_attempt

slow = retry(sleep=asyncio.sleep, stop=stop_after_attempt(2))


@slow
def ping():
    return 1


def _fetch():
    return 2


fetch = retry(sleep=asyncio.sleep)(_fetch)


@slow
async def aping():
    return 3


def run():
    results = [ping(), fetch()]
    kinds = [inspect.iscoroutine(r) for r in results]
    for r in results:
        r.close()  # never awaited: closed so the interpreter does not warn
    return kinds, asyncio.run(aping())
"""


def test_sync_functions_retried_with_an_async_sleep_return_coroutines_and_are_marked(tmp_path):
    # TN-6 through a decorator kept in a name and a retry(...)(fn) call: on tenacity 9.2.1 both sync
    # functions return a coroutine (callers get no value), so the migration must mark both
    assert metadata.version("tenacity") == "9.2.1"
    write_tree(tmp_path, {"svc/sleepers.py": SLEEPERS, "requirements.txt": "tenacity==8.2.3\n"})
    result = migrate_twice(tmp_path, only=["tenacity"])
    migrated = read(tmp_path, "svc/sleepers.py")
    assert [c.rule for _, c in result.markers] == ["TN-6", "TN-6"]
    assert migrated.index("sync ping()") < migrated.index("def ping")
    assert migrated.index("sync _fetch()") < migrated.index("fetch = retry")
    assert python_output("import sleepers; print(sleepers.run())", tmp_path / "svc") == "([True, True], 3)"


def test_random_wait_with_min_never_sleeps_below_min_on_9(tmp_path):
    # TN-3's premise on the installed 9.2.1: a test asserting a first sleep below min (true on 8.x,
    # where it was uniform(0, high)) fails, hence the blocker when tests time a mocked sleep
    assert metadata.version("tenacity") == "9.2.1"
    probe = (
        "from unittest import mock\n"
        "from tenacity import retry, stop_after_attempt, wait_random_exponential\n"
        "@retry(wait=wait_random_exponential(multiplier=0.5, min=1, max=10), stop=stop_after_attempt(3))\n"
        "def call():\n    raise ValueError\n"
        "with mock.patch('tenacity.nap.time.sleep') as sleep:\n"
        "    try:\n        call()\n    except Exception:\n        pass\n"
        "print(min(c.args[0] for c in sleep.call_args_list) >= 1)\n"
    )
    assert python_output(probe, tmp_path) == "True"


POLICIES = """
import asyncio
import time

from tenacity import retry, stop_after_attempt

RETRY_KW = {"stop": stop_after_attempt(3), "sleep": asyncio.sleep}
SYNC_KW = {"stop": stop_after_attempt(3), "sleep": time.sleep}
slow = retry(sleep=asyncio.sleep, stop=stop_after_attempt(5))
"""

CLIENT = """
import asyncio
import inspect

from tenacity import retry, stop_after_attempt

import policies
from policies import RETRY_KW, SYNC_KW, slow

LOCAL_KW = dict(stop=stop_after_attempt(2), sleep=asyncio.sleep)


@retry(**RETRY_KW)
def spread():
    return 1


@retry(**LOCAL_KW)
def spread_here():
    return 2


@slow
def imported():
    return 3


@policies.slow
def through_module():
    return 4


@retry(**SYNC_KW)
def sync_sleep():
    return 5


@retry(**RETRY_KW)
async def already_async():
    return 6


def run():
    results = [spread(), spread_here(), imported(), through_module()]
    kinds = [inspect.iscoroutine(r) for r in results]
    for r in results:
        r.close()  # never awaited: closed so the interpreter does not warn
    return kinds, sync_sleep(), asyncio.run(already_async())
"""


def test_async_sleep_spread_from_kwargs_or_imported_from_another_module_is_marked(tmp_path):
    # TN-6 where the sleep= is not written at the decorator: `@retry(**KW)` with the sleep in a dict
    # (here or in another module) and `@slow` / `@policies.slow` bound in another module. On 9.2.1 all
    # four sync functions return a coroutine; they were left with no marker
    assert metadata.version("tenacity") == "9.2.1"
    write_tree(
        tmp_path,
        {"svc/policies.py": POLICIES, "svc/client.py": CLIENT, "requirements.txt": "tenacity==8.2.3\n"},
    )
    result = migrate_twice(tmp_path, only=["tenacity"])
    migrated = read(tmp_path, "svc/client.py")
    assert [(path, c.rule) for path, c in result.markers] == [("svc/client.py", "TN-6")] * 4
    for name in ("spread", "spread_here", "imported", "through_module"):
        assert f"sync {name}() has an async sleep=" in migrated
    assert "sync sync_sleep()" not in migrated and "already_async()" not in migrated.split("def already")[0]
    assert (
        python_output("import client; print(client.run())", tmp_path / "svc")
        == "([True, True, True, True], 5, 6)"
    )


def test_an_async_sleep_defined_in_another_module_is_known(tmp_path):
    # `@retry(sleep=nap)` where `async def nap` lives in another module of the service: the wrapper
    # returns a coroutine on 9.2.1, and only a local async def or asyncio/trio/anyio's sleep was known
    write_tree(
        tmp_path,
        {
            "requirements.txt": "tenacity==8.2.3\n",
            "svc/util.py": "async def nap(seconds):\n    return None\n\n\ndef plain_nap(seconds):\n    return None\n",
            "svc/jobs.py": dedent(
                """
                import inspect

                from tenacity import retry

                import util
                from util import nap, plain_nap


                @retry(sleep=nap)
                def job():
                    return 1


                @retry(sleep=util.nap)
                def job2():
                    return 2


                @retry(sleep=plain_nap)
                def job3():
                    return 3


                def run():
                    results = [job(), job2()]
                    kinds = [inspect.iscoroutine(r) for r in results]
                    for r in results:
                        r.close()
                    return kinds, job3()
                """
            ),
        },
    )
    result = migrate_twice(tmp_path, only=["tenacity"])
    migrated = read(tmp_path, "svc/jobs.py")
    assert [(path, c.rule) for path, c in result.markers] == [("svc/jobs.py", "TN-6")] * 2
    assert "sync job()" in migrated and "sync job2()" in migrated and "sync job3()" not in migrated
    assert python_output("import jobs; print(jobs.run())", tmp_path / "svc") == "([True, True], 3)"
