"""tenacity 8 -> 9: before/after per rule (TN-1..TN-8), negative cases, idempotence."""

from __future__ import annotations

from migrators.upgrades import default_registry
from tests.migrators.helpers import assert_codemod, migrate_twice, read, write_tree

T = "tenacity"


def test_tn2_statistics_of_decorated_function():
    assert_codemod(
        T,
        """
        from tenacity import retry, stop_after_attempt

        @retry(stop=stop_after_attempt(3))
        def fetch():
            return 1

        def attempts():
            return fetch.retry.statistics["attempt_number"]
        """,
        """
        from tenacity import retry, stop_after_attempt

        @retry(stop=stop_after_attempt(3))
        def fetch():
            return 1

        def attempts():
            return fetch.statistics["attempt_number"]
        """,
        rules={"TN-2"},
    )


def test_tn2_method_through_self_and_alias():
    assert_codemod(
        T,
        """
        import tenacity as t

        class Repo:
            @t.retry
            def load(self):
                return 1

            def stats(self):
                return self.load.retry.statistics
        """,
        """
        import tenacity as t

        class Repo:
            @t.retry
            def load(self):
                return 1

            def stats(self):
                return self.load.statistics
        """,
        rules={"TN-2"},
    )


def test_tn2_retrying_instance_is_never_rewritten():
    code = """
        from tenacity import Retrying

        r = Retrying()
        print(r.statistics, r.retry.statistics)
        """
    assert_codemod(T, code, code, rules=set())


V91 = default_registry().versions().with_targets(tenacity="9.1.2")


def test_tn2_unresolvable_receiver_gets_marker_below_92():
    before = """
        import tenacity
        from elsewhere import fetch

        def attempts():
            return fetch.retry.statistics
        """
    assert_codemod(
        T,
        before,
        """
        import tenacity
        from elsewhere import fetch

        def attempts():
            # MIGRATION-BLOCKER(TN-2): read fetch.statistics, not .retry.statistics (empty on tenacity 8.4.2-9.1); receiver not resolvable to an @retry function
            return fetch.retry.statistics
        """,
        rules={"TN-2"},
        versions=V91,
    )
    # 9.2 fills f.retry.statistics again (git jd/tenacity@4c1b7bc): nothing for a person to do
    assert_codemod(T, before, before, rules=set())


def test_tn2_retry_object_held_in_a_name_or_read_with_getattr_below_92():
    before = """
        from tenacity import Retrying, retry

        @retry
        def fetch():
            return 1

        def stats():
            r = fetch.retry
            loop = Retrying()
            return r.statistics, getattr(fetch.retry, "statistics"), loop.statistics
        """
    assert_codemod(
        T,
        before,
        """
        from tenacity import Retrying, retry

        @retry
        def fetch():
            return 1

        def stats():
            r = fetch.retry
            loop = Retrying()
            # MIGRATION-BLOCKER(TN-2): r holds fetch.retry, whose .statistics is empty on tenacity 8.4.2-9.1: read the function's own .statistics instead
            # MIGRATION-BLOCKER(TN-2): getattr(<f>.retry, 'statistics') is empty on tenacity 8.4.2-9.1: read <f>.statistics
            return r.statistics, getattr(fetch.retry, "statistics"), loop.statistics
        """,
        rules={"TN-2"},
        versions=V91,
    )
    assert_codemod(T, before, before, rules=set())


def test_tn2_test_file_that_never_names_tenacity_is_read(tmp_path):
    # the test imports the retried function: the file has no "tenacity" in it, TN-2 must still see it
    write_tree(
        tmp_path,
        {
            "requirements.txt": "tenacity==8.2.3\n",
            "svc/client.py": "from tenacity import retry\n\n\n@retry\ndef ping():\n    return 1\n",
            "tests/test_client.py": "from svc.client import ping\n\n\ndef test_stats():\n"
            "    ping()\n    assert ping.retry.statistics['attempt_number'] == 1\n",
        },
    )
    result = migrate_twice(tmp_path, only=["tenacity"], versions=V91)
    assert [(p, c.rule) for p, c in result.markers] == [("tests/test_client.py", "TN-2")]


def test_tn3_nonzero_min_gets_informational_note_only():
    assert_codemod(
        T,
        """
        from tenacity import retry, wait_random_exponential, wait_full_jitter

        @retry(wait=wait_random_exponential(multiplier=1, max=60, min=5))
        def a():
            pass

        w = wait_full_jitter(1, 10, 2, 3)
        z = wait_random_exponential(min=0)
        """,
        """
        from tenacity import retry, wait_random_exponential, wait_full_jitter

        # tenacity>=9: wait never below min (was uniform(0, high))
        @retry(wait=wait_random_exponential(multiplier=1, max=60, min=5))
        def a():
            pass

        # tenacity>=9: wait never below min (was uniform(0, high))
        w = wait_full_jitter(1, 10, 2, 3)
        z = wait_random_exponential(min=0)
        """,
        rules={"TN-3"},
    )


def test_tn4_module_paths():
    assert_codemod(
        T,
        """
        import tenacity
        from tenacity._asyncio import AsyncRetrying
        from tenacity import retry, iscoroutinefunction

        ok = tenacity.iscoroutinefunction(f) and iscoroutinefunction(g)
        """,
        """
        import tenacity
        from tenacity import AsyncRetrying
        from tenacity import retry
        import inspect
        from inspect import iscoroutinefunction

        ok = inspect.iscoroutinefunction(f) and iscoroutinefunction(g)
        """,
        rules={"TN-4"},
    )


def test_tn4_attribute_path():
    assert_codemod(
        T,
        """
        import tenacity._asyncio

        r = tenacity._asyncio.AsyncRetrying()
        """,
        """
        import tenacity

        r = tenacity.AsyncRetrying()
        """,
        rules={"TN-4"},
    )


def test_tn5_reraise_never_added_and_except_retryerror_kept():
    code = """
        from tenacity import retry, stop_after_attempt, RetryError

        @retry(stop=stop_after_attempt(2))
        def flaky():
            raise ValueError("x")

        def call():
            try:
                flaky()
            except RetryError as e:
                return e.last_attempt.attempt_number
        """
    assert_codemod(T, code, code, rules=set())


def test_tn6_sync_function_with_async_sleep():
    assert_codemod(
        T,
        """
        import asyncio
        from tenacity import retry

        @retry(sleep=asyncio.sleep)
        def poll():
            return 1

        @retry(sleep=asyncio.sleep)
        async def fine():
            return 1
        """,
        """
        import asyncio
        from tenacity import retry

        # MIGRATION-BLOCKER(TN-6): sync poll() has an async sleep=: tenacity>=9.1.3 makes the wrapper a coroutine; make the caller await it, or use a sync sleep
        @retry(sleep=asyncio.sleep)
        def poll():
            return 1

        @retry(sleep=asyncio.sleep)
        async def fine():
            return 1
        """,
        rules={"TN-6"},
    )


def test_tn6_async_sleep_retry_kept_in_a_name_or_applied_as_a_call():
    assert_codemod(
        T,
        """
        import asyncio
        from tenacity import retry

        slow = retry(sleep=asyncio.sleep)


        @slow
        def ping():
            return 1


        class Poller:
            @slow
            def poll(self):
                return 2

            @slow
            async def fine(self):
                return 3


        def _fetch():
            return 4


        async def _afetch():
            return 5


        fetch = retry(sleep=asyncio.sleep)(_fetch)
        afetch = retry(sleep=asyncio.sleep)(_afetch)
        plain = retry()(_fetch)
        """,
        """
        import asyncio
        from tenacity import retry

        slow = retry(sleep=asyncio.sleep)


        # MIGRATION-BLOCKER(TN-6): sync ping() has an async sleep=: tenacity>=9.1.3 makes the wrapper a coroutine; make the caller await it, or use a sync sleep
        @slow
        def ping():
            return 1


        class Poller:
            # MIGRATION-BLOCKER(TN-6): sync poll() has an async sleep=: tenacity>=9.1.3 makes the wrapper a coroutine; make the caller await it, or use a sync sleep
            @slow
            def poll(self):
                return 2

            @slow
            async def fine(self):
                return 3


        def _fetch():
            return 4


        async def _afetch():
            return 5


        # MIGRATION-BLOCKER(TN-6): sync _fetch() retried with an async sleep=: tenacity>=9.1.3 makes the wrapper a coroutine; make the callers await it, or use a sync sleep
        fetch = retry(sleep=asyncio.sleep)(_fetch)
        afetch = retry(sleep=asyncio.sleep)(_afetch)
        plain = retry()(_fetch)
        """,
        rules={"TN-6"},
    )


def test_tn7_only_for_92_targets():
    before = """
        from tenacity import wait_exponential_jitter, wait_chain

        w = wait_exponential_jitter(initial=2, max=30)
        v = wait_exponential_jitter(3, 40)
        c = wait_chain()
        """
    assert_codemod(
        T,
        before,
        """
        from tenacity import wait_exponential_jitter, wait_chain

        w = wait_exponential_jitter(multiplier=2, max=30)
        v = wait_exponential_jitter(multiplier=3, max=40)
        # MIGRATION-BLOCKER(TN-7): wait_chain() with no arguments raises ValueError on tenacity>=9.2; pass at least one wait strategy
        c = wait_chain()
        """,
        rules={"TN-7"},
    )
    assert_codemod(
        T, before, before, rules=set(), versions=default_registry().versions().with_targets(tenacity="9.1.2")
    )


def test_tn8_no_op_surface_unchanged():
    code = """
        from tenacity import Retrying, AsyncRetrying, RetryCallState, before_sleep_log, retry

        @retry
        def f():
            pass

        def cb(retry_state: RetryCallState):
            return retry_state.attempt_number, retry_state.upcoming_sleep

        f.retry.wait = None
        g = f.retry_with(stop=None)
        for attempt in Retrying():
            with attempt:
                pass
        """
    assert_codemod(T, code, code, rules=set())


def test_code_in_strings_untouched():
    code = """
        import tenacity
        DOC = "fetch.retry.statistics and tenacity._asyncio"
        """
    assert_codemod(T, code, code, rules=set())


def test_tn1_requirements_tree(tmp_path):
    write_tree(
        tmp_path,
        {
            "requirements.txt": "tenacity==8.2.3  # retries\nrequests>=2\n",
            "app/main.py": "import tenacity\n",
        },
    )
    result = migrate_twice(tmp_path, only=["tenacity"])
    assert read(tmp_path, "requirements.txt") == "tenacity==9.2.1  # retries\nrequests>=2\n"
    assert [c.rule for c in result.file("requirements.txt").changes] == ["TN-1"]


def test_tn3_blocker_when_tests_assert_on_waits(tmp_path):
    write_tree(
        tmp_path,
        {
            "svc/client.py": "from tenacity import retry, wait_random_exponential\n\n"
            "@retry(wait=wait_random_exponential(min=2, max=10))\ndef call():\n    pass\n",
            "tests/test_client.py": "from svc.client import call\n\ndef test_wait():\n"
            "    w = call.retry.wait\n    assert w.min == 2  # wait_random_exponential bounds\n",
            "tests/test_local.py": "from tenacity import wait_random_exponential\n\n"
            "def test_w():\n    assert wait_random_exponential(min=5).min == 5\n",
        },
    )
    result = migrate_twice(tmp_path, only=["tenacity"])
    # the service's own wait: blocker; a wait built in a test shows its failure in the test stage
    assert [(p, m.rule) for p, m in result.markers if m.rule == "TN-3"] == [("svc/client.py", "TN-3")]
    assert "# tenacity>=9: wait never below min" in read(tmp_path, "tests/test_local.py")


def test_tn3_blocker_when_tests_time_a_mocked_sleep(tmp_path):
    # the test never names the random wait: it mocks tenacity's sleep and asserts on the durations;
    # from 9.0 the first one is never below min=1 (it was uniform(0, 1)), so the assertion breaks
    write_tree(
        tmp_path,
        {
            "requirements.txt": "tenacity==8.2.3\n",
            "svc/client.py": "from tenacity import retry, stop_after_attempt, wait_random_exponential\n\n"
            "@retry(wait=wait_random_exponential(multiplier=0.5, min=1, max=10), stop=stop_after_attempt(2))\n"
            "def call():\n    raise ValueError\n",
            "tests/test_client.py": "from unittest import mock\n\nfrom svc.client import call\n\n"
            "def test_backoff():\n    with mock.patch('tenacity.nap.time.sleep') as sleep:\n"
            "        call.retry_with(reraise=True)\n    assert sleep.call_args_list[0].args[0] < 1\n",
        },
    )
    result = migrate_twice(tmp_path, only=["tenacity"])
    assert [(p, c.rule) for p, c in result.markers] == [("svc/client.py", "TN-3")]
