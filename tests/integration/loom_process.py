"""What the integration tests share: their flags, the stubs, and a `loom serve` process.

Each test starts its own server with --port 0 and waits for the line that names the port,
so tests never race for a port or sleep to wait for readiness.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

# `loom serve` prints this once it listens (tools/serve_command.cc).
READY_LINE = re.compile(
    r"^loom: serving model '(?P<model>[^']*)' .* on (?P<host>[^:\s]+):(?P<port>\d+)")
STARTUP_TIMEOUT_S = 60.0
# Debian's, matching its python3-protobuf and python3-grpcio.
PROTOC = "/usr/bin/protoc"
GRPC_PYTHON_PLUGIN = "/usr/bin/grpc_python_plugin"

# A subset of grpc/health/v1/health.proto: the Check call. The file's name keeps its Python
# module (health_check_pb2) away from the `grpc` package; the proto package gives the
# service its real name, grpc.health.v1.Health.
HEALTH_PROTO = """\
syntax = "proto3";

package grpc.health.v1;

message HealthCheckRequest {
  string service = 1;
}

message HealthCheckResponse {
  enum ServingStatus {
    UNKNOWN = 0;
    SERVING = 1;
    NOT_SERVING = 2;
    SERVICE_UNKNOWN = 3;
  }
  ServingStatus status = 1;
}

service Health {
  rpc Check(HealthCheckRequest) returns (HealthCheckResponse);
}
"""


class Flags:
    loom: Path
    source_dir: Path


FLAGS = Flags()


def parse_flags_then_run_tests():
    """Reads --loom and --source-dir into FLAGS; hands the other arguments to unittest."""
    import unittest

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--loom", type=Path, required=True, help="the loom binary")
    parser.add_argument("--source-dir", type=Path, required=True, help="loom's source tree")
    args, rest = parser.parse_known_args()
    FLAGS.loom = args.loom.resolve()
    FLAGS.source_dir = args.source_dir.resolve()
    if not os.access(FLAGS.loom, os.X_OK):
        sys.exit(f"--loom {FLAGS.loom}: not an executable; build it with "
                 "`cmake --build --preset default --target loom`")
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


def run_checked(command, **kwargs):
    """Runs command; on failure raises with its output, so the test log says why."""
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{command} exited {result.returncode}\n"
                           f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def generate_loom_stubs(out_dir):
    """Generates the loom.v1 stubs into out_dir with the example's own script."""
    script = FLAGS.source_dir / "examples" / "python" / "generate_stubs.sh"
    env = dict(os.environ, PROTOC=PROTOC, GRPC_PYTHON_PLUGIN=GRPC_PYTHON_PLUGIN)
    run_checked(["sh", str(script), str(out_dir)], env=env)


def generate_health_stubs(out_dir):
    """Writes health_check_pb2{,_grpc}.py into out_dir."""
    out_dir = Path(out_dir)
    (out_dir / "health_check.proto").write_text(HEALTH_PROTO)
    run_checked([PROTOC, f"-I{out_dir}", f"--python_out={out_dir}",
                 f"--grpc_python_out={out_dir}",
                 f"--plugin=protoc-gen-grpc_python={GRPC_PYTHON_PLUGIN}",
                 str(out_dir / "health_check.proto")])


class LoomServer:
    """A `loom serve --port 0 --metrics-port -1` subprocess.

    start() returns once the server listens (or raises with its stderr); stop() kills it if
    it still runs. Every line of its stderr is kept (log()); a thread drains the pipe so
    that the server never blocks writing to it.
    """

    def __init__(self, *serve_args):
        # --metrics-port -1: parallel tests must not fight over the default metrics port.
        self.command = [str(FLAGS.loom), "serve", "--port", "0", "--metrics-port", "-1",
                        *serve_args]
        self.process = None
        self.host = None
        self.port = None
        self._lines = []
        self._lines_changed = threading.Condition()
        self._reader = None

    @property
    def target(self):
        return f"{self.host}:{self.port}"

    def start(self, timeout_s=STARTUP_TIMEOUT_S):
        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True, errors="replace")
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        line = self.wait_for_line(READY_LINE, timeout_s)
        match = READY_LINE.match(line)
        self.host = match["host"]
        self.port = int(match["port"])
        return self

    def _read_stderr(self):
        for line in self.process.stderr:
            with self._lines_changed:
                self._lines.append(line.rstrip("\n"))
                self._lines_changed.notify_all()
        with self._lines_changed:
            self._lines.append(None)  # end of stream
            self._lines_changed.notify_all()

    def wait_for_line(self, pattern, timeout_s):
        """Returns the first stderr line that matches pattern (a compiled regex)."""
        deadline = time.monotonic() + timeout_s
        with self._lines_changed:
            while True:
                for line in self._lines:
                    if line is None:
                        raise AssertionError(
                            f"loom serve closed stderr ({self._describe_exit()}) before "
                            f"printing a line matching {pattern.pattern!r}\n{self.log()}")
                    if pattern.search(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"loom serve printed no line matching "
                                         f"{pattern.pattern!r} in {timeout_s} s\n{self.log()}")
                self._lines_changed.wait(remaining)

    def _describe_exit(self):
        try:
            return f"exit code {self.process.wait(5)}"
        except subprocess.TimeoutExpired:
            return "still running"

    def log(self):
        """The server's stderr so far, for failure messages."""
        with self._lines_changed:
            lines = [line for line in self._lines if line is not None]
        return "loom serve stderr:\n  " + "\n  ".join(lines)

    def signal(self, signum=signal.SIGTERM):
        self.process.send_signal(signum)

    def wait(self, timeout_s):
        """Returns the exit code; raises with the log if the server runs past timeout_s."""
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"loom serve still runs {timeout_s} s later\n{self.log()}")

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self._reader is not None:
            self._reader.join(5)
        self.process.stderr.close()
