"""`loom serve`'s SIGTERM drain, observed through real gRPC calls.

    drain_test.py --loom build/default/loom --source-dir . [unittest args]

The first SIGTERM turns health NOT_SERVING, refuses new calls with UNAVAILABLE, gives the
calls in flight --drain-timeout seconds, ends the rest with UNAVAILABLE and exits 0; a
second signal exits at once.
"""

import queue
import re
import signal
import sys
import tempfile
import threading
import time
import unittest

import grpc

from loom_process import (LoomServer, generate_health_stubs, generate_loom_stubs,
                          parse_flags_then_run_tests)

MODEL = "tiny-shakespeare-llama"
HEALTH_SERVICES = ("", "loom.v1.Generation", MODEL)  # the server's overall status first
LONG_MAX_TOKENS = 2000  # seconds of CPU decoding, so the stream is still running at SIGTERM
SHORT_MAX_TOKENS = 30
RPC_TIMEOUT_S = 5  # any single unary call or stream message
MARGIN_S = 10  # the drain's own work beyond drain-timeout: cancelling, stopping, exiting
HEALTH_CHANGE_TIMEOUT_S = 3  # "soon after the signal"
SECOND_SIGNAL_EXIT_TIMEOUT_S = 3

# Set by setUpModule: the generated stub modules.
pb2 = pb2_grpc = health_pb2 = health_pb2_grpc = None


def setUpModule():
    global pb2, pb2_grpc, health_pb2, health_pb2_grpc
    stubs = tempfile.TemporaryDirectory(prefix="loom_drain_test_")
    unittest.addModuleCleanup(stubs.cleanup)
    generate_loom_stubs(stubs.name)
    generate_health_stubs(stubs.name)
    sys.path.insert(0, stubs.name)
    from loom.v1 import generation_pb2, generation_pb2_grpc
    import health_check_pb2
    import health_check_pb2_grpc
    pb2, pb2_grpc = generation_pb2, generation_pb2_grpc
    health_pb2, health_pb2_grpc = health_check_pb2, health_check_pb2_grpc


def greedy_request(max_tokens):
    return pb2.GenerateRequest(
        text="ROMEO:",
        sampling=pb2.SamplingParams(temperature=0, max_tokens=max_tokens, ignore_eos=True))


class Stream:
    """A server-streaming call read on its own thread, so the test can act while it runs.

    The responses arrive in a queue; once the call ends, `error` holds its RpcError (None if
    it finished OK) and `ended_at` its time.monotonic().
    """

    def __init__(self, call):
        self._call = call
        self._responses = queue.Queue()
        self._ended = threading.Event()
        self.received = []  # the responses next() returned, in order
        self.error = None
        self.ended_at = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for response in self._call:
                self._responses.put(response)
        except grpc.RpcError as error:
            self.error = error
        finally:
            self.ended_at = time.monotonic()
            self._ended.set()

    def next(self, timeout_s=RPC_TIMEOUT_S):
        """Returns the next response; fails the test if none comes in timeout_s."""
        try:
            response = self._responses.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"no response in {timeout_s} s (call error: {self.describe()})")
        self.received.append(response)
        return response

    def wait(self, timeout_s):
        """Waits for the call to end, then moves what next() left unread into `received`."""
        if not self._ended.wait(timeout_s):
            self._call.cancel()
            raise AssertionError(f"the stream still runs {timeout_s} s later "
                                 f"({len(self.received)} messages read)")
        while not self._responses.empty():
            self.received.append(self._responses.get())
        return self.received

    def describe(self):
        if self.error is None:
            return "none"
        return f"{self.error.code().name}: {self.error.details()}"

    def cancel(self):
        self._call.cancel()


class DrainTest(unittest.TestCase):

    def start_server(self, *serve_args):
        server = LoomServer(*serve_args)
        self.addCleanup(server.stop)
        server.start()
        channel = grpc.insecure_channel(server.target)
        self.addCleanup(channel.close)
        self.stub = pb2_grpc.GenerationStub(channel)
        self.health = health_pb2_grpc.HealthStub(channel)
        return server

    def start_stream(self, max_tokens):
        stream = Stream(self.stub.Generate(greedy_request(max_tokens), timeout=120))
        self.addCleanup(stream.cancel)
        return stream

    def health_status(self, service):
        """The status name Check returns for service; raises grpc.RpcError on failure."""
        response = self.health.Check(health_pb2.HealthCheckRequest(service=service),
                                     timeout=RPC_TIMEOUT_S)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def assert_serving(self, server):
        for service in HEALTH_SERVICES:
            self.assertEqual(self.health_status(service), "SERVING",
                             f"health of {service!r}\n{server.log()}")

    def wait_until_not_serving(self, server):
        """Polls health until NOT_SERVING, or UNAVAILABLE once the server has stopped."""
        deadline = time.monotonic() + HEALTH_CHANGE_TIMEOUT_S
        pending = list(HEALTH_SERVICES)
        while pending:
            try:
                status = self.health_status(pending[0])
            except grpc.RpcError as error:
                self.assertEqual(error.code(), grpc.StatusCode.UNAVAILABLE,
                                 f"health of {pending[0]!r}: {error.details()}\n{server.log()}")
                return  # stopped
            if status == "NOT_SERVING":
                pending.pop(0)
                continue
            self.assertEqual(status, "SERVING", f"health of {pending[0]!r}\n{server.log()}")
            if time.monotonic() > deadline:
                self.fail(f"health of {pending[0]!r} still SERVING {HEALTH_CHANGE_TIMEOUT_S} s "
                          f"after SIGTERM\n{server.log()}")
            time.sleep(0.01)

    def assert_new_calls_unavailable(self, server):
        with self.assertRaises(grpc.RpcError, msg=server.log()) as raised:
            list(self.stub.Generate(greedy_request(5), timeout=RPC_TIMEOUT_S))
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNAVAILABLE,
                         f"{raised.exception.details()}\n{server.log()}")

    def assert_completed(self, stream, max_tokens, server):
        responses = stream.received
        if stream.error is not None:
            self.fail(f"the stream ended with {stream.describe()} after {len(responses)} "
                      f"messages\n{server.log()}")
        last = responses[-1]
        self.assertEqual(pb2.FinishReason.Name(last.finish_reason), "FINISH_REASON_LENGTH")
        self.assertEqual(last.usage.completion_tokens, max_tokens)
        self.assertEqual(sum(len(r.token_ids) for r in responses), max_tokens)

    def test_long_stream_finishes_or_is_cut_within_drain_timeout(self):
        drain_timeout_s = 5
        server = self.start_server("--drain-timeout", str(drain_timeout_s))
        self.assert_serving(server)
        stream = self.start_stream(LONG_MAX_TOKENS)
        for _ in range(3):
            stream.next()

        server.signal(signal.SIGTERM)
        signalled_at = time.monotonic()
        self.wait_until_not_serving(server)
        self.assert_new_calls_unavailable(server)

        stream.wait(drain_timeout_s + MARGIN_S)
        if stream.error is not None:
            self.assertEqual(stream.error.code(), grpc.StatusCode.UNAVAILABLE,
                             f"{stream.describe()}\n{server.log()}")
        else:
            self.assert_completed(stream, LONG_MAX_TOKENS, server)
        self.assertLess(stream.ended_at - signalled_at, drain_timeout_s + MARGIN_S)
        self.assertEqual(server.wait(drain_timeout_s + MARGIN_S), 0, server.log())
        self.assertIn("loom: drained; exiting", server.log())
        # Stopped: the port no longer answers.
        with self.assertRaises(grpc.RpcError) as raised:
            self.health_status("")
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def test_stream_past_drain_timeout_ends_unavailable(self):
        drain_timeout_s = 0.5  # far less than LONG_MAX_TOKENS take to decode
        server = self.start_server("--drain-timeout", str(drain_timeout_s))
        stream = self.start_stream(LONG_MAX_TOKENS)
        stream.next()

        server.signal(signal.SIGTERM)
        stream.wait(drain_timeout_s + MARGIN_S)
        self.assertIsNotNone(stream.error, f"the stream finished\n{server.log()}")
        self.assertEqual(stream.error.code(), grpc.StatusCode.UNAVAILABLE,
                         f"{stream.describe()}\n{server.log()}")
        self.assertLess(len(stream.received), LONG_MAX_TOKENS)
        self.assertEqual(server.wait(drain_timeout_s + MARGIN_S), 0, server.log())

    def test_short_stream_in_flight_completes(self):
        drain_timeout_s = 30  # never reached: the stream needs well under a second
        server = self.start_server("--drain-timeout", str(drain_timeout_s))
        self.assert_serving(server)
        stream = self.start_stream(SHORT_MAX_TOKENS)
        # The rest of the tokens take tens of milliseconds to decode; the signal takes
        # microseconds to reach the drain.
        stream.next()

        server.signal(signal.SIGTERM)
        stream.wait(RPC_TIMEOUT_S + MARGIN_S)
        self.assert_completed(stream, SHORT_MAX_TOKENS, server)
        self.assertEqual(server.wait(MARGIN_S), 0, server.log())
        self.assertIn("loom: drained; exiting", server.log())

    def test_second_signal_exits_at_once(self):
        # Without the second signal the drain would wait for the long stream.
        server = self.start_server("--drain-timeout", "600")
        stream = self.start_stream(LONG_MAX_TOKENS)
        stream.next()

        server.signal(signal.SIGTERM)
        # Two signals sent back to back could merge into one pending signal.
        server.wait_for_line(re.compile(r"^loom: signal \d+: draining"), RPC_TIMEOUT_S)
        self.assertIsNone(server.process.poll(), f"exited on the first signal\n{server.log()}")
        server.signal(signal.SIGTERM)
        signalled_at = time.monotonic()
        exit_code = server.wait(SECOND_SIGNAL_EXIT_TIMEOUT_S)
        self.assertLess(time.monotonic() - signalled_at, SECOND_SIGNAL_EXIT_TIMEOUT_S)
        self.assertNotEqual(exit_code, 0, f"the drain finished instead\n{server.log()}")
        stream.wait(RPC_TIMEOUT_S)
        self.assertIsNotNone(stream.error, f"the stream finished although the server exited\n"
                                           f"{server.log()}")


if __name__ == "__main__":
    parse_flags_then_run_tests()
