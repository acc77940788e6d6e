"""Real middleboxes (Debian's nginx and squid) in front of a running `crosswind serve`.

usage:
  middleboxes.py run KIND --upstream PORT        start, print one JSON line, stop on SIGTERM,
                                                 SIGINT or when the parent process exits
  middleboxes.py start KIND --upstream PORT      start in the background, print one JSON line
  middleboxes.py stop DIR                        stop what `start` left in DIR and remove it
  middleboxes.py write KIND --upstream PORT --port P --dir DIR
                                                 only write the configuration (to read it)
  middleboxes.py kinds                           list the kinds

The JSON line: {"kind", "port", "dir", "pid", "server"}; the middlebox listens on
127.0.0.1:port only. Every file (configuration, pid, logs, nginx temp paths, squid's cache
log) lives in a fresh temporary directory, so nothing of the packages' own services is used.

Kinds:
  nginx-corporate          a reverse proxy as commonly configured: HTTP/1.0 to the upstream
                           (nginx's default), no Upgrade/Connection forwarding, proxy_buffering on
                           (which a response's `X-Accel-Buffering: no` turns off for it)
  nginx-corporate-buffered the same, but `proxy_ignore_headers X-Accel-Buffering`: the proxy
                           buffers every response body, streams included
  nginx-websocket          HTTP/1.1 to the upstream and Upgrade/Connection forwarded
  squid                    squid in accelerator mode (`http_port … accel`, `cache_peer …
                           originserver`) with its defaults for Upgrade
  squid-websocket          the same with `http_upgrade_request_protocols websocket allow all`
                           (lowercase: squid 5.7 matches the name case-sensitively, and
                           browsers send `Upgrade: websocket`)
"""
import ctypes
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

KINDS = ["nginx-corporate", "nginx-corporate-buffered", "nginx-websocket", "squid", "squid-websocket"]


def nginx_config(kind, port, upstream, directory):
    """An nginx.conf whose every path is inside `directory`."""
    if kind == "nginx-websocket":
        forwarding = """
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;"""
        upgrade_map = """
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }"""
    else:
        forwarding = ""
        upgrade_map = ""
    ignore = "\n            proxy_ignore_headers X-Accel-Buffering;" if kind == "nginx-corporate-buffered" else ""
    return f"""# {kind}: written by Scripts/middleboxes.py
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{
    worker_connections 1024;
}}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65;
{upgrade_map}
    upstream crosswind {{
        server 127.0.0.1:{upstream};
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        location / {{
            proxy_pass http://crosswind;
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering on;
            proxy_read_timeout 60s;{forwarding}{ignore}
        }}
    }}
}}
"""


def squid_config(kind, port, upstream, directory):
    """A squid.conf for a reverse proxy (accelerator) whose every path is inside `directory`."""
    # squid 5.7 compares protocol names case-sensitively: browsers and NIO send `websocket`.
    upgrade = "\nhttp_upgrade_request_protocols websocket allow all" if kind == "squid-websocket" else ""
    return f"""# {kind}: written by Scripts/middleboxes.py
http_port 127.0.0.1:{port} accel defaultsite=127.0.0.1 vhost
cache_peer 127.0.0.1 parent {upstream} 0 no-query originserver name=crosswind
http_access allow localhost
http_access deny all
cache_peer_access crosswind allow all
never_direct allow all{upgrade}
cache_mem 8 MB
pid_filename {directory}/squid.pid
access_log stdio:{directory}/access.log
cache_log {directory}/cache.log
cache_store_log none
coredump_dir {directory}
visible_hostname crosswind-middlebox
shutdown_lifetime 0 seconds
pinger_enable off
"""


def program(name):
    """nginx or squid: on PATH, or where Debian installs them (/usr/sbin is not on every user's PATH)."""
    return shutil.which(name) or f"/usr/sbin/{name}"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def write(kind, port, upstream, directory):
    """Writes the configuration for `kind` into `directory`; returns its path."""
    if kind.startswith("nginx"):
        path = os.path.join(directory, "nginx.conf")
        text = nginx_config(kind, port, upstream, directory)
    elif kind.startswith("squid"):
        path = os.path.join(directory, "squid.conf")
        text = squid_config(kind, port, upstream, directory)
    else:
        raise SystemExit(f"middleboxes: unknown kind {kind!r} (one of {', '.join(KINDS)})")
    with open(path, "w") as f:
        f.write(text)
    return path


def die_with_parent():
    """In the middlebox's process: SIGTERM when this script dies, however it dies (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def launch(kind, upstream):
    """Starts `kind` in front of 127.0.0.1:upstream on a free loopback port; returns (process, port, dir)."""
    for _ in range(5):
        directory = tempfile.mkdtemp(prefix=f"crosswind-{kind}-")
        # Worker processes drop root privileges (nginx to nobody, squid to proxy): they must reach the files.
        os.chmod(directory, 0o755)
        port = free_port()
        config = write(kind, port, upstream, directory)
        if kind.startswith("nginx"):
            command = [program("nginx"), "-p", directory, "-c", config, "-g", "daemon off;"]
        else:
            if os.geteuid() == 0:
                proxy = pwd.getpwnam("proxy")
                os.chown(directory, proxy.pw_uid, proxy.pw_gid)
            command = [program("squid"), "-N", "-f", config]
        log = open(os.path.join(directory, "stderr.log"), "wb")
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, preexec_fn=die_with_parent)
        deadline = time.time() + 15
        while time.time() < deadline and process.poll() is None and not listening(port):
            time.sleep(0.05)
        if process.poll() is None and listening(port):
            return process, port, directory
        stop_process(process)
        reason = open(os.path.join(directory, "stderr.log")).read()[-2000:]
        shutil.rmtree(directory, ignore_errors=True)
        if "in use" not in reason:
            raise SystemExit(f"middleboxes: {kind} did not start: {reason}")
    raise SystemExit(f"middleboxes: no free port for {kind} after 5 tries")


def stop_process(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def version(kind):
    run = subprocess.run([program("nginx" if kind.startswith("nginx") else "squid"), "-v"], capture_output=True, text=True)
    return (run.stdout + run.stderr).strip().splitlines()[0]


def main(argv):
    # A launcher may hand over SIGTERM/SIGINT blocked (some process spawners do); the middlebox
    # would inherit that and ignore the usual ways of stopping it.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    if not argv or argv[0] not in ("run", "start", "stop", "write", "kinds"):
        raise SystemExit(__doc__)
    command = argv[0]
    if command == "kinds":
        print("\n".join(KINDS))
        return
    if command == "stop":
        directory = argv[1]
        with open(os.path.join(directory, "middlebox.pid")) as f:
            pid = int(f.read())
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(200):
                os.kill(pid, 0)
                time.sleep(0.05)
        except ProcessLookupError:
            pass
        shutil.rmtree(directory, ignore_errors=True)
        return
    kind = argv[1]
    options = dict(zip(argv[2::2], argv[3::2]))
    upstream = int(options["--upstream"])
    if command == "write":
        os.makedirs(options["--dir"], exist_ok=True)
        print(write(kind, int(options["--port"]), upstream, options["--dir"]))
        return
    process, port, directory = launch(kind, upstream)
    with open(os.path.join(directory, "middlebox.pid"), "w") as f:
        f.write(str(process.pid))
    print(json.dumps({"kind": kind, "port": port, "dir": directory, "pid": process.pid, "server": version(kind)}), flush=True)
    if command == "start":
        return
    # `run`: stay until told to stop (or until the parent goes away), then take the middlebox
    # down and its files with it.
    parent = os.getppid()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    try:
        while not stopping and process.poll() is None and os.getppid() == parent:
            time.sleep(0.1)
    finally:
        stop_process(process)
        shutil.rmtree(directory, ignore_errors=True)

if __name__ == "__main__":
    main(sys.argv[1:])
