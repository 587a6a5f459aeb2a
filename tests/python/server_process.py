"""Starts `kvinfer serve` on a free loopback port for a test and stops it afterwards."""

import json
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

from conftest import KVINFER, MODEL

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


class ServerProcess:
    """A running `kvinfer serve`; `base_url` is e.g. http://127.0.0.1:40123."""

    def __init__(self, *args, startup_timeout=120):
        command = [str(KVINFER), "serve", "-m", str(MODEL), "--port", "0", *map(str, args)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.log_lines = []
        self.base_url = None
        found = threading.Event()

        def read_log():
            for line in self.process.stderr:
                self.log_lines.append(line)
                match = LISTENING.search(line)
                if match and self.base_url is None:
                    self.base_url = match.group(1)
                    found.set()
            found.set()

        self._reader = threading.Thread(target=read_log, daemon=True)
        self._reader.start()
        if not found.wait(startup_timeout) or self.base_url is None:
            self.process.kill()
            raise RuntimeError("kvinfer serve did not start:\n" + "".join(self.log_lines))

    @property
    def log(self):
        return "".join(self.log_lines)

    def get_json(self, path, headers=None):
        request = urllib.request.Request(self.base_url + path, headers=headers or {})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def get_text(self, path):
        with urllib.request.urlopen(self.base_url + path, timeout=30) as response:
            return response.read().decode()

    def post(self, path, body, headers=None):
        """POSTs `body` (bytes, str or a JSON-able object); returns (status, parsed JSON or text)."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        request = urllib.request.Request(
            self.base_url + path, data=body, method="POST",
            headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        try:
            return status, json.loads(payload)
        except ValueError:
            return status, payload.decode(errors="replace")

    def wait_until_idle(self, timeout=30):
        """Waits until no request runs or waits and no KV block is held; returns /stats."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.get_json("/stats")
            if stats["requests_running"] == 0 and stats["requests_waiting"] == 0 and stats["kv_blocks_used"] == 0:
                return stats
            if time.monotonic() > deadline:
                raise AssertionError(f"server still busy after {timeout} s: {stats}")
            time.sleep(0.1)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Sends `sig` and returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        self._reader.join(5)
        return code

    def kill_if_running(self):
        """Kills the server when a test failed before stopping it, so that none is left behind."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
