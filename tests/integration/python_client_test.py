"""examples/python/loom_client.py against a real `loom serve`.

    python_client_test.py --loom build/default/loom --source-dir . [unittest args]
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from loom_process import (FLAGS, LoomServer, generate_loom_stubs, parse_flags_then_run_tests,
                          run_checked)

CLIENT_TIMEOUT_S = 60
PROMPT = "ROMEO:"
MAX_TOKENS = 20
API_KEY = "test-key-0123456789"

# Set by setUpModule.
stubs_dir = None
greedy_text = None  # `loom generate`'s greedy text for PROMPT and MAX_TOKENS


def setUpModule():
    global stubs_dir, greedy_text
    stubs = tempfile.TemporaryDirectory(prefix="loom_python_client_test_")
    unittest.addModuleCleanup(stubs.cleanup)
    stubs_dir = stubs.name
    generate_loom_stubs(stubs_dir)
    generated = run_checked(
        [str(FLAGS.loom), "generate", "--prompt", PROMPT, "--max-tokens", str(MAX_TOKENS),
         "--temperature", "0", "--json"],
        timeout=CLIENT_TIMEOUT_S)
    greedy_text = json.loads(generated.stdout)["text"]


class PythonClientTest(unittest.TestCase):

    def start_server(self, *serve_args):
        server = LoomServer(*serve_args)
        self.addCleanup(server.stop)
        return server.start()

    def run_client(self, server, *client_args, env_api_key=None):
        """Runs the example client against server; returns its CompletedProcess."""
        env = {k: v for k, v in os.environ.items() if k not in ("LOOM_API_KEY", "LOOM_STUBS_DIR")}
        if env_api_key is not None:
            env["LOOM_API_KEY"] = env_api_key
        client = FLAGS.source_dir / "examples" / "python" / "loom_client.py"
        command = [sys.executable, str(client), "--target", server.target,
                   "--stubs-dir", stubs_dir, *client_args]
        return subprocess.run(command, capture_output=True, env=env, timeout=CLIENT_TIMEOUT_S)

    def run_greedy(self, server, *client_args, **kwargs):
        return self.run_client(server, "--prompt", PROMPT, "--max-tokens", str(MAX_TOKENS),
                               "--temperature", "0", *client_args, **kwargs)

    def assert_succeeded(self, result, server):
        self.assertEqual(result.returncode, 0,
                         f"client stderr:\n{result.stderr.decode()}\n{server.log()}")

    def assert_failed_with(self, result, code_name, *words):
        stderr = result.stderr.decode()
        self.assertNotEqual(result.returncode, 0, f"the client succeeded; stderr:\n{stderr}")
        self.assertIn(f"loom_client: {code_name}: ", stderr)
        for word in words:
            self.assertIn(word, stderr)
        self.assertEqual(result.stdout, b"")

    def test_greedy_completion_matches_loom_generate(self):
        server = self.start_server()
        result = self.run_greedy(server)
        self.assert_succeeded(result, server)
        self.assertNotEqual(greedy_text, "")
        self.assertEqual(result.stdout.decode(), greedy_text)
        stderr = result.stderr.decode()
        self.assertIn("finish_reason: LENGTH", stderr)
        self.assertIn(f"completion_tokens: {MAX_TOKENS}", stderr)

    def test_chat_streams_a_reply(self):
        server = self.start_server()
        result = self.run_client(server, "--chat", "--prompt", "Who art thou?",
                                 "--max-tokens", "8", "--temperature", "0")
        self.assert_succeeded(result, server)
        self.assertRegex(result.stderr.decode(),
                         r"finish_reason: (LENGTH|STOP) .*completion_tokens: [1-8]\b")

    def test_api_key_is_required(self):
        server = self.start_server("--api-key", "another-key", "--api-key", API_KEY)
        self.assert_failed_with(self.run_greedy(server), "UNAUTHENTICATED")
        self.assert_failed_with(self.run_greedy(server, "--api-key", "wrong-key"),
                                "UNAUTHENTICATED")

        with_flag = self.run_greedy(server, "--api-key", API_KEY)
        self.assert_succeeded(with_flag, server)
        self.assertEqual(with_flag.stdout.decode(), greedy_text)
        with_env = self.run_greedy(server, env_api_key=API_KEY)
        self.assert_succeeded(with_env, server)
        self.assertEqual(with_env.stdout.decode(), greedy_text)

    def test_bad_temperature_is_invalid_argument(self):
        server = self.start_server()
        result = self.run_client(server, "--prompt", PROMPT, "--temperature", "-1")
        self.assert_failed_with(result, "INVALID_ARGUMENT", "temperature")

    def test_tls(self):
        if shutil.which("openssl") is None:
            self.skipTest("needs openssl to make a certificate")
        pki = tempfile.TemporaryDirectory(prefix="loom_python_client_test_tls_")
        self.addCleanup(pki.cleanup)
        cert, key = f"{pki.name}/cert.pem", f"{pki.name}/key.pem"
        run_checked(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                     "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                     "-keyout", key, "-out", cert])
        server = self.start_server("--tls-cert", cert, "--tls-key", key)

        result = self.run_greedy(server, "--tls-ca", cert)
        self.assert_succeeded(result, server)
        self.assertEqual(result.stdout.decode(), greedy_text)
        self.assert_failed_with(self.run_greedy(server), "UNAVAILABLE")

    def test_unknown_model_is_not_found(self):
        server = self.start_server()
        result = self.run_client(server, "--prompt", PROMPT, "--model", "no-such-model")
        self.assert_failed_with(result, "NOT_FOUND", "no-such-model")


if __name__ == "__main__":
    parse_flags_then_run_tests()
