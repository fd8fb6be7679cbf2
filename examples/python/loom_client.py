#!/usr/bin/env python3
"""Streams one completion from a loom server (loom.v1.Generation) to stdout.

stdout is exactly the generated text, written as it arrives, so it can be piped; on a
terminal a final newline is added. The finish reason and token usage go to stderr. On a
gRPC error the client prints the status code name and details to stderr and exits 1.

The Python stubs come from generate_stubs.sh: the client imports them from --stubs-dir,
else $LOOM_STUBS_DIR, else the gen/ folder next to this file.

    ./generate_stubs.sh
    ./loom_client.py --target 127.0.0.1:50051 --prompt "ROMEO:" --max-tokens 40
"""

import argparse
import os
import sys
from pathlib import Path

import grpc

EXIT_RPC_ERROR = 1
EXIT_INTERRUPTED = 130  # the shell's code for SIGINT


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="127.0.0.1:50051", metavar="HOST:PORT",
                        help="address of `loom serve` (default: %(default)s)")
    parser.add_argument("--prompt", required=True, metavar="TEXT",
                        help="prompt text (with --chat: the user message)")
    parser.add_argument("--chat", action="store_true",
                        help="use the Chat RPC with --prompt as the one user message")
    parser.add_argument("--model", default="", metavar="NAME",
                        help="model name (default: the server's default)")
    # Sampling fields stay unset unless given, so that the model's defaults apply; the
    # server validates them (INVALID_ARGUMENT names the field).
    parser.add_argument("--max-tokens", type=int, metavar="N", help="most new tokens")
    parser.add_argument("--temperature", type=float, metavar="T", help="0 = greedy")
    parser.add_argument("--api-key", default=os.environ.get("LOOM_API_KEY"), metavar="KEY",
                        help="sent as 'authorization: Bearer KEY' (default: $LOOM_API_KEY)")
    parser.add_argument("--tls-ca", metavar="FILE",
                        help="PEM CA certificate: connect over TLS and verify the server with it")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="deadline of the whole call (default: none)")
    parser.add_argument("--stubs-dir", default=os.environ.get("LOOM_STUBS_DIR"), metavar="DIR",
                        help="directory of the generated stubs (default: $LOOM_STUBS_DIR, "
                             "else gen/ next to this file)")
    args = parser.parse_args(argv)
    # Checks that the server cannot make: these values do not fit the request at all.
    if args.max_tokens is not None and not 0 <= args.max_tokens < 2**32:
        parser.error("--max-tokens: must fit a uint32")
    if args.tls_ca is not None and not Path(args.tls_ca).is_file():
        parser.error(f"--tls-ca: no such file: {args.tls_ca}")
    return args


def import_stubs(stubs_dir):
    """Returns the generation_pb2 and generation_pb2_grpc modules from stubs_dir."""
    path = Path(stubs_dir) if stubs_dir else Path(__file__).resolve().parent / "gen"
    if not (path / "loom" / "v1" / "generation_pb2.py").is_file():
        sys.exit(f"loom_client: no stubs in {path}; run generate_stubs.sh first")
    sys.path.insert(0, str(path))
    from loom.v1 import generation_pb2, generation_pb2_grpc
    return generation_pb2, generation_pb2_grpc


def open_channel(target, tls_ca):
    if tls_ca is None:
        return grpc.insecure_channel(target)
    credentials = grpc.ssl_channel_credentials(root_certificates=Path(tls_ca).read_bytes())
    return grpc.secure_channel(target, credentials)


def start_call(args, pb2, stub):
    """Starts the Generate or Chat stream that args ask for; returns its response iterator."""
    sampling = pb2.SamplingParams()
    if args.max_tokens is not None:
        sampling.max_tokens = args.max_tokens
    if args.temperature is not None:
        sampling.temperature = args.temperature
    metadata = [("authorization", f"Bearer {args.api_key}")] if args.api_key else None
    if args.chat:
        request = pb2.ChatRequest(
            model=args.model,
            messages=[pb2.ChatMessage(role="user", content=args.prompt)],
            sampling=sampling)
        return stub.Chat(request, timeout=args.timeout, metadata=metadata)
    request = pb2.GenerateRequest(model=args.model, text=args.prompt, sampling=sampling)
    return stub.Generate(request, timeout=args.timeout, metadata=metadata)


def finish_line(out, text_ends_line):
    """Ends the terminal's line after the text, so that stderr's report starts on its own."""
    if not text_ends_line and sys.stdout.isatty():
        out.write(b"\n")
        out.flush()


def main(argv):
    args = parse_args(argv)
    pb2, pb2_grpc = import_stubs(args.stubs_dir)
    out = sys.stdout.buffer
    text_ends_line = True  # nothing written yet
    last = None
    with open_channel(args.target, args.tls_ca) as channel:
        call = start_call(args, pb2, pb2_grpc.GenerationStub(channel))
        try:
            for response in call:
                if response.text:
                    out.write(response.text.encode("utf-8"))
                    out.flush()
                    text_ends_line = response.text.endswith("\n")
                last = response
        except grpc.RpcError as error:
            finish_line(out, text_ends_line)
            print(f"loom_client: {error.code().name}: {error.details()}", file=sys.stderr)
            return EXIT_RPC_ERROR
        except KeyboardInterrupt:
            call.cancel()
            finish_line(out, text_ends_line)
            return EXIT_INTERRUPTED
    finish_line(out, text_ends_line)
    if last is not None:
        reason = pb2.FinishReason.Name(last.finish_reason).removeprefix("FINISH_REASON_")
        usage = last.usage
        print(f"finish_reason: {reason}  prompt_tokens: {usage.prompt_tokens}  "
              f"completion_tokens: {usage.completion_tokens}  "
              f"cached_prompt_tokens: {usage.cached_prompt_tokens}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
