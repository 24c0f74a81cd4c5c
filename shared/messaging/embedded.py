"""Broker-free kombu transport used as the "embedded default".

A hardened subclass of :mod:`kombu.transport.filesystem` for many processes on
one machine sharing a directory::

    <root>/queues     <queue>/<file>: ready messages, a folder per queue
    <root>/inflight   <owner>/<file>: delivered, not yet acked, per process
    <root>/tmp        half-written messages (renamed into queues/ when complete)
    <root>/control    exchange binding tables (upstream format)
    <root>/corrupt    unreadable message files, kept for inspection
    <root>/spare      files of acked messages, kept to be written again by a later put
    <root>/bells      a doorbell (named pipe) per queue: rung on every put, so a waiting consumer
                      takes the message at once instead of at its next poll (shared/messaging/wake.py)

Use it as ``kombu.Connection(transport="shared.messaging.embedded:Transport",
transport_options={"root": path})`` or via :func:`connection`.

What it changes versus upstream, and why:

* ``_put`` writes to ``tmp/``, fsyncs, then ``os.rename``\\s into ``queues/``:
  a consumer can never see a half-written file (flock does not stop rename). The copies of one message
  for its other queues are hard links to that file.
* The file an ack leaves is kept in ``spare/`` (when no queue links it any more) and a later put writes
  its message into it: creating a file (a new inode) cost 0.2-0.7 ms of CPU on the ext4 disks measured,
  a rename, a write and a sync about a tenth of that (bench/embedded_transport.py). At most
  ``SPARE_SLOTS`` are kept.
* ``_get`` renames the file into this process's in-flight folder instead of
  deleting it; ack / reject(requeue=False) retire it (to ``spare/``, or deleted), reject(requeue=True) and
  channel close move it back.  Folders of dead processes (pid gone, or pid
  reused: checked by boot id + process start time) are moved back by any
  channel that starts, and periodically by consumers: at-least-once delivery.
* A message moved back is renamed ``<stamp>_r...`` (its place in the order kept) and delivered
  with ``delivery_info["redelivered"]`` set, as RabbitMQ flags it; a first delivery says False,
  so a consumer looks in its inbox only where a message may have been handled before.
* File names are ``<time_ns, 20 digits>_<per-process counter>_<uuid>.<queue>.msg``: they
  sort by wall-clock time across processes and strictly by publish order
  within one process.
* Each queue has its folder, so a consumer looks only at the messages of its own queues: in one
  folder for all, every look listed, parsed and sorted every waiting message of every queue, which
  under load (hundreds waiting) took a sixth of the consumers' CPU. Messages an older version left
  in ``queues/`` itself are moved into their folders by ``recover``.
* A consumer waits on its queues' doorbells between polls, and the poll (``polling_interval``) is
  only the safety net for a lost ring. Between polls it looks again only at the folders of the queues
  whose doorbell rang: every put rings, and the declaration service's consumer, of fourteen queues,
  listed them all for each delivery (a third of a millisecond a delivery beside its handler's work).
  At least once a polling interval it looks at every folder (a ring another consumer of the same queue
  read, a bell it could not open).
* Binding files are created without a truncate race, and exchange state is
  kept per root instead of per process (so two roots in one process do not
  share bindings).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any, ClassVar, NamedTuple

import kombu
from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.transport.filesystem import LOCK_EX, LOCK_SH, exchange_queue_t, lock, unlock
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

from shared import file_cache
from shared.messaging import wake

logger = logging.getLogger(__name__)

#: Import path accepted by ``kombu.Connection(transport=...)``.
TRANSPORT = "shared.messaging.embedded:Transport"

# The safety net only: a put rings the queue's doorbell, which wakes a waiting consumer at once.
DEFAULT_POLLING_INTERVAL = 1.0
DEFAULT_RECOVERY_INTERVAL = 5.0
# Files of acked messages kept for later puts (spare/<slot>.spare): an ack that finds its slot taken
# replaces the file there, so there are never more.
SPARE_SLOTS = 64
_SYNC = getattr(os, "fdatasync", os.fsync)  # the data and the size; the file's times need no sync


# --- process identity -------------------------------------------------------
# An in-flight folder is named "<pid>-<boot id>-<start time>" so that a later
# process that happens to get the same pid (or the same pid after a reboot) is
# not mistaken for the owner.

_PROC = os.path.exists("/proc/self/stat")


def _read_boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:16]
    except OSError:
        return "noboot"


_BOOT_ID = _read_boot_id()


def _start_time(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks since boot; None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and ')': split after the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):  # killed but not yet reaped: it will never ack
        return None
    return fields[19]


_own: tuple[int, str] | None = None


def owner_token() -> str:
    """Identity of the current process (recomputed after fork)."""
    global _own
    pid = os.getpid()
    if _own is None or _own[0] != pid:
        # Without /proc a random token stands in for the start time; liveness
        # then falls back to os.kill(pid, 0), which cannot detect pid reuse.
        start = _start_time(pid) if _PROC else None
        _own = (pid, f"{pid}-{_BOOT_ID}-{start or uuid.uuid4().hex[:12]}")
    return _own[1]


def owner_alive(token: str) -> bool:
    """Whether the process that created in-flight folder ``token`` still runs."""
    try:
        pid_s, boot, start = token.split("-", 2)
        pid = int(pid_s)
    except ValueError:
        return True  # not ours: never touch it
    if token == owner_token():
        return True
    if boot != _BOOT_ID or pid == os.getpid():
        return False
    if _PROC:
        return _start_time(pid) == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- file naming ------------------------------------------------------------

_stamp_lock = threading.Lock()
_last_ns = 0
_counter = itertools.count()
# Processes start at different slots, so that their acks fill the spare folder rather than replace each other's.
_spare_slot = itertools.count(uuid.uuid4().int % SPARE_SLOTS)


def _next_stamp() -> str:
    """Sortable unique prefix: wall clock for cross-process order, clamped to be
    strictly increasing so one process's messages never sort out of order."""
    global _last_ns
    with _stamp_lock:
        _last_ns = max(time.time_ns(), _last_ns + 1)
        return f"{_last_ns:020d}_{next(_counter):09d}_{uuid.uuid4().hex}"


def _check_queue_name(queue: Any) -> str:
    # The queue name is part of a file name: no separators, no empty name.
    if not isinstance(queue, str) or not queue or "/" in queue or "\0" in queue or os.sep in queue:
        raise ChannelError(f"Invalid queue name for embedded transport: {queue!r}")
    return queue


def queue_of(file_name: str) -> str:
    """The queue a message file (``<stamp>.<queue>.msg``) is in."""
    return file_name.partition(".")[2].removesuffix(".msg")


_MADE: set[str] = set()  # queue folders known to exist


@dataclass(frozen=True)
class Dirs:
    """The root's folders, as plain strings: a message's put, claim and ack each join a few of them, and
    ``pathlib`` parsing the parts of every path it builds was a tenth of the transport's CPU."""

    root: str
    queues: str
    inflight: str
    tmp: str
    control: str
    corrupt: str
    bells: str
    spare: str

    @classmethod
    def create(cls, root: str | os.PathLike[str]) -> Dirs:
        r = os.path.realpath(root)
        names = ("queues", "inflight", "tmp", "control", "corrupt", "bells", "spare")
        dirs = cls(r, *(os.path.join(r, name) for name in names))
        for d in (dirs.queues, dirs.inflight, dirs.tmp, dirs.control, dirs.corrupt, dirs.bells, dirs.spare):
            os.makedirs(d, exist_ok=True)
        return dirs

    def queue(self, name: str) -> str:
        """The folder of a queue's ready messages (made on first use: ``made``)."""
        return f"{self.queues}/{name}"

    def made(self, name: str) -> str:
        """The queue's folder, made if missing (remembered once made: ``move_into_queue`` makes it again
        if it was removed meanwhile)."""
        folder = self.queue(name)
        if folder not in _MADE:
            os.makedirs(folder, exist_ok=True)
            _MADE.add(folder)
        return folder

    def move_into_queue(self, source: str, name: str) -> None:
        """Rename ``source`` to ``name`` in its queue's folder (``queue_of(name)``); FileNotFoundError if
        ``source`` is gone (another process moved it first)."""
        folder = self.made(queue_of(name))
        try:
            os.rename(source, f"{folder}/{name}")
        except FileNotFoundError:
            if not os.path.exists(source):
                raise
            _MADE.discard(folder)  # the folder went (its root removed and made again): make it afresh
            os.rename(source, f"{self.made(queue_of(name))}/{name}")

    def ring(self, file_name: str) -> None:
        """Wake the consumers of the queue a message file (``<stamp>.<queue>.msg``) is in."""
        wake.ring(f"{self.bells}/{queue_of(file_name)}")


def recover(dirs: Dirs) -> int:
    """Move in-flight messages of dead processes back to ``queues/``.

    They keep their file names, hence their place in the queue order.  Safe to
    run concurrently: each rename is atomic and exactly one mover wins.
    """
    moved = 0
    for owner in os.listdir(dirs.inflight):
        if owner_alive(owner):
            continue
        folder = os.path.join(dirs.inflight, owner)
        try:
            names = os.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                dirs.move_into_queue(os.path.join(folder, name), redelivered_name(name))
                moved += 1
                dirs.ring(name)
        with contextlib.suppress(OSError):
            os.rmdir(folder)
    # Messages of an older version, which kept every queue's in queues/ itself: each to its folder.
    with os.scandir(dirs.queues) as entries:
        flat = [entry.name for entry in entries if entry.is_file() and entry.name.endswith(".msg")]
    for name in flat:
        with contextlib.suppress(FileNotFoundError):
            dirs.move_into_queue(os.path.join(dirs.queues, name), name)
            dirs.ring(name)
    # Temp files of producers that died mid-write are garbage, never delivered.
    for name in os.listdir(dirs.tmp):
        if not owner_alive(name.split(".", 1)[0]):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(dirs.tmp, name))
    if moved:
        logger.warning("embedded transport: requeued %d message(s) of dead consumers", moved)
    return moved


REDELIVERED = "_r"  # the stamp's suffix on a message moved back to its queue


def redelivered_name(file_name: str) -> str:
    """The name of a message file moved back to its queue: its stamp marked, so its next delivery says
    it was delivered before (and it keeps its place: the stamp still sorts first by time)."""
    stamp, _, rest = file_name.partition(".")
    return file_name if stamp.endswith(REDELIVERED) else f"{stamp}{REDELIVERED}.{rest}"


_TABLES: file_cache.Kept = {}  # binding files as last read, by path (callers only iterate them)


def _read_table(path: str) -> list[exchange_queue_t]:
    with open(path, "rb") as f:
        lock(f, LOCK_SH)  # _queue_bind rewrites the file in place under LOCK_EX
        try:
            raw = bytes_to_str(f.read())
        finally:
            unlock(f)
    return _bindings(raw)


def _bindings(raw: str) -> list[exchange_queue_t]:
    """A binding file's rows; an empty file (being created by another process) has none yet."""
    return [exchange_queue_t(*row) for row in loads(raw)] if raw.strip() else []


class Channel(filesystem.Channel):
    """Filesystem channel with atomic publish and ack-based deletion."""

    connection: Transport

    def __init__(self, connection: Transport, **kwargs: Any) -> None:
        self._dirs = connection.dirs
        # Shared per connection: kombu may reject a message on another channel
        # of the same connection (Transport._reject_inbound_message).
        self._inflight: dict[str, str] = connection.inflight
        self._fsync = bool(connection.options.get("fsync", True))
        self._recovery_interval = float(connection.options.get("recovery_interval", DEFAULT_RECOVERY_INTERVAL))
        self._owner_dir: tuple[str, str] | None = None
        self._listing: dict[str, deque[str]] = {}  # queue: its ready files, as last looked at
        self._exchange_files: dict[str, Path] = {}
        self._last: tuple[dict[str, Any], str] | None = None  # the message put last, and its file
        self._spares: list[str] = []  # spare/ as last looked at (a put takes from it)
        super().__init__(connection, **kwargs)
        self._last_recovery = time.monotonic()
        recover(self._dirs)

    # Upstream reads these from transport options; derive them from root.
    @property
    def data_folder_in(self) -> str:
        return self._dirs.queues

    @property
    def data_folder_out(self) -> str:
        return self._dirs.queues

    @property
    def control_folder(self) -> Path:
        return Path(self._dirs.control)

    @property
    def store_processed(self) -> bool:
        return False

    def _inflight_dir(self) -> str:
        token = owner_token()
        if self._owner_dir is None or self._owner_dir[0] != token:
            path = os.path.join(self._dirs.inflight, token)
            os.makedirs(path, exist_ok=True)
            self._owner_dir = (token, path)
        return self._owner_dir[1]

    # --- publish ------------------------------------------------------------

    # Named as kombu's filesystem channel names it, which renamed the abstract channel's ``message``.
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{_next_stamp()}.{_check_queue_name(queue)}.msg"
        target = f"{self._dirs.made(queue)}/{name}"
        try:
            if not self._linked(payload, target):
                self._write(payload, name)
        except OSError as exc:
            raise ChannelError(f"Cannot add message to queue {queue!r}") from exc
        self._last = (payload, target)  # the object itself is kept: its id cannot be reused meanwhile
        self._dirs.ring(name)

    def _linked(self, payload: dict[str, Any], target: str) -> bool:
        """The same message put to another queue of the exchange (kombu puts it once per queue): a hard
        link to the copy just put, where a file written and synced per copy cost a message bound to
        three queues three times the CPU. False when that copy has left its queue meanwhile. Nobody
        writes a message file once it is in a queue: consumers rename, read and unlink their own link."""
        if self._last is None or self._last[0] is not payload:
            return False
        try:
            os.link(self._last[1], target)  # atomic: all or nothing
        except FileNotFoundError:
            return False  # taken by a consumer already (or the folder removed): write this copy afresh
        return True

    def _write(self, payload: dict[str, Any], name: str) -> None:
        # The tmp name starts with our owner token so recover() can collect it
        # if we die mid-write.
        tmp = f"{self._dirs.tmp}/{owner_token()}.{uuid.uuid4().hex}.tmp"
        data = memoryview(str_to_bytes(dumps(payload)))
        try:
            fd = self._take_spare(tmp)
            if fd is None:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                written = 0
                while written < len(data):
                    written += os.write(fd, data[written:])
                os.ftruncate(fd, len(data))  # a spare may have held a longer message
                if self._fsync:
                    _SYNC(fd)
            finally:
                os.close(fd)
            self._dirs.move_into_queue(tmp, name)  # a rename: atomic, all or nothing
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _take_spare(self, tmp: str) -> int | None:
        """A spare file renamed to ``tmp`` and opened for writing; None when there is none to take. Another
        producer may take a spare first: its rename fails, and the next is tried."""
        for _ in range(2):  # what is left of the last look, then one look more
            while self._spares:
                try:
                    os.rename(f"{self._dirs.spare}/{self._spares.pop()}", tmp)
                except FileNotFoundError:
                    continue
                return os.open(tmp, os.O_WRONLY)
            try:
                self._spares = os.listdir(self._dirs.spare)
            except FileNotFoundError:  # gone with its root: files are made afresh
                return None
        return None

    # --- consume ------------------------------------------------------------

    def _look(self, queue: str) -> deque[str]:
        """The queue's ready messages' file names, in order: one look at its folder."""
        try:
            names = os.listdir(self._dirs.queue(queue))
        except FileNotFoundError:  # nothing was ever put to it
            return deque()
        return deque(sorted(name for name in names if name.endswith(".msg")))

    def forget_look(self, queues: Iterable[str] | None = None) -> None:
        """The next ``_get`` of ``queues`` (None: of every queue) looks at their folders again (the transport
        calls this before each round, for the queues whose doorbell rang)."""
        if queues is None:
            self._listing = {}
        else:
            for queue in queues:
                self._listing.pop(queue, None)

    def _size(self, queue: str) -> int:
        return len(self._look(queue))

    def _purge(self, queue: str) -> int:
        count = 0
        for name in self._look(queue):
            with contextlib.suppress(FileNotFoundError):  # taken by a consumer meanwhile
                os.unlink(f"{self._dirs.queue(queue)}/{name}")
                count += 1
        self._listing.pop(queue, None)
        return count

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, Any]:
        if time.monotonic() - self._last_recovery >= self._recovery_interval:
            self._last_recovery = time.monotonic()
            recover(self._dirs)
        # One look at a queue's folder serves the whole round of the queues a consumer takes in turn
        # (kombu's FairCycle asks each until one has a message). A message put after the look waits
        # for the next round.
        names = self._listing.get(queue)
        if names is None:
            names = self._listing[queue] = self._look(queue)
        while names:
            name = names.popleft()
            claimed = f"{self._inflight_dir()}/{name}"
            try:
                os.rename(f"{self._dirs.queue(queue)}/{name}", claimed)  # atomic claim
            except FileNotFoundError:
                continue  # another consumer claimed it first
            try:
                with open(claimed, "rb") as f:
                    payload: dict[str, Any] = loads(bytes_to_str(f.read()))
                props = payload["properties"]
            except (ValueError, KeyError, TypeError, OSError):
                # Never redeliver a file we cannot parse: it would loop forever.
                logger.error("embedded transport: moving unreadable %s to corrupt/", name)
                with contextlib.suppress(OSError):
                    os.rename(claimed, os.path.join(self._dirs.corrupt, name))
                continue
            # A fresh tag per delivery: the published tag is shared by every
            # queue a topic/fanout message was copied to.
            tag = uuid.uuid4().hex
            props["delivery_tag"] = tag
            props.setdefault("delivery_info", {})["redelivered"] = name.partition(".")[0].endswith(REDELIVERED)
            self._inflight[tag] = claimed
            return payload
        raise Empty()

    def _discard(self, delivery_tag: str) -> None:
        path = self._inflight.pop(delivery_tag, None)
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._retire(path)

    def _retire(self, path: str) -> None:
        """An acked message's file: kept in spare/ for a later put where it is the message's last link (no
        queue holds a copy, and nobody can link to it any more: a put links only from a queue's folder),
        else removed."""
        if os.stat(path).st_nlink == 1:
            try:
                os.rename(path, f"{self._dirs.spare}/{next(_spare_slot) % SPARE_SLOTS}.spare")  # replaces one there
                return
            except FileNotFoundError:  # spare/ went with its root (made again by the next channel): removed instead
                pass
        os.unlink(path)

    def _restore(self, message: virtual.Message) -> None:
        # Move the file back instead of republishing through the exchange
        # (upstream would copy it to *every* queue bound to the routing key).
        path = self._inflight.pop(message.delivery_tag, None)
        if path is None:
            return  # already acked, or not delivered through this connection
        with contextlib.suppress(FileNotFoundError):  # already recovered
            name = os.path.basename(path)
            self._dirs.move_into_queue(path, redelivered_name(name))
            self._dirs.ring(name)

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        self._discard(delivery_tag)
        super().basic_ack(delivery_tag, multiple=multiple)

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if not requeue:
            self._discard(delivery_tag)
        super().basic_reject(delivery_tag, requeue=requeue)  # requeue -> _restore

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> virtual.Message | None:
        self.forget_look()  # a single get sees every message put before it
        message: virtual.Message | None = super().basic_get(queue, no_ack=no_ack, **kwargs)
        if message is not None and no_ack:
            self._discard(message.delivery_tag)
        return message

    def basic_consume(self, queue: str, no_ack: bool, callback: Any, consumer_tag: str, **kwargs: Any) -> Any:
        if not no_ack:
            return super().basic_consume(queue, no_ack, callback, consumer_tag, **kwargs)

        def discard_then_call(message: virtual.Message) -> Any:
            # no_ack means at-most-once: drop the file before handing it over.
            self._discard(message.delivery_tag)
            return callback(message)

        return super().basic_consume(queue, no_ack, discard_then_call, consumer_tag, **kwargs)

    # --- bindings -----------------------------------------------------------

    def _exchange_file(self, exchange: str) -> Path:
        # Upstream checks the name and builds the path on every publish (get_table): once per exchange.
        file = self._exchange_files.get(exchange)
        if file is None:
            file = self._exchange_files[exchange] = super()._exchange_file(exchange)
        return file

    def get_table(self, exchange: str) -> list[exchange_queue_t]:
        # Same as upstream, but an empty file (being created by _queue_bind
        # in another process) means "no bindings yet", not a JSON error; and read
        # again only once the file changed (every publish looks its exchange up).
        file = self._exchange_file(exchange)
        try:
            return file_cache.read(str(file), _read_table, _TABLES)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ChannelError(f"Cannot open {file}") from exc

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        # Upstream checks exists() then opens "wb": two processes binding at
        # start-up can truncate each other's binding.  Create without
        # truncating and read-modify-write under the exclusive lock instead.
        file = self._exchange_file(exchange)
        row = exchange_queue_t(routing_key or "", pattern or "", queue or "")
        try:
            fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o644)
            with os.fdopen(fd, "r+b", buffering=0) as f:
                lock(f, LOCK_EX)
                try:
                    raw = bytes_to_str(f.read())
                    rows = _bindings(raw)
                    if row not in rows:
                        rows.insert(0, row)
                        f.seek(0)
                        f.write(str_to_bytes(dumps(rows)))
                        f.truncate()
                finally:
                    unlock(f)
        except OSError as exc:
            raise ChannelError(f"Cannot open {file}") from exc


class Transport(filesystem.Transport):
    """Embedded transport; requires ``transport_options={"root": ...}``.

    Options: ``root`` (required), ``polling_interval`` (default 0.05 s),
    ``fsync`` (default True), ``recovery_interval`` (seconds between dead
    consumer scans while polling, default 5).
    """

    Channel = Channel
    polling_interval = DEFAULT_POLLING_INTERVAL
    driver_name = "embedded"

    # In-process exchange declarations and bindings, one per root.  Upstream
    # shares one state per process, so a binding made for root A would make
    # queue_bind skip writing the binding file for root B.
    _states: ClassVar[dict[str, virtual.BrokerState]] = {}
    _states_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, client: kombu.Connection, **kwargs: Any) -> None:
        # kombu gives every connection its options as a dict (declared None on the class).
        self.options: dict[str, Any] = client.transport_options or {}
        root = self.options.get("root")
        if not root:
            raise ValueError('embedded transport needs transport_options={"root": <directory>}')
        self.dirs = Dirs.create(root)
        self.inflight: dict[str, str] = {}
        super().__init__(client, **kwargs)
        with self._states_lock:
            self.state = self._states.setdefault(self.dirs.root, virtual.BrokerState())
        self._bell: _Bell | None = None
        self._look_everywhere_at = 0.0  # (monotonic) when the next round looks at every folder

    def _bell_of_consumed_queues(self) -> _Bell:
        channels: list[Any] = self.channels or []  # declared None on kombu's class, a list once connected
        queues = frozenset(q for channel in channels for q in channel._active_queues)
        if self._bell is None or self._bell.queues != queues:
            if self._bell is not None:
                self._bell.listener.close()
            self._bell = _Bell(queues, wake.Listener([Path(self.dirs.bells, q) for q in sorted(queues)]))
            self._look_everywhere_at = 0.0
        return self._bell

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:  # type: ignore[override]
        # Upstream's loop, waiting on the consumed queues' doorbells where it sleeps a polling interval.
        started = time.monotonic()
        while True:
            bell = self._bell_of_consumed_queues()
            bell.listener.clear()  # a ring from here on may be for a message this look misses
            rang = {path.name for path in bell.listener.rung()}
            now = time.monotonic()
            everywhere = now >= self._look_everywhere_at
            if everywhere:
                self._look_everywhere_at = now + (self.polling_interval or 0.0)
            channels: list[Channel] = self.channels or []  # declared None on kombu's class
            for channel in channels:
                channel.forget_look(None if everywhere else rang | bell.deaf())
            try:
                cycle: Any = self.cycle
                cycle.get(self._deliver, timeout=timeout)
            except Empty:
                waited = time.monotonic() - started
                if timeout is not None and waited >= timeout:
                    raise TimeoutError() from None
                pause = self.polling_interval or 0.0
                if timeout is not None:
                    pause = min(pause, timeout - waited)
                bell.listener.wait(pause)
            else:
                return

    def close_connection(self, connection: Any) -> None:
        if self._bell is not None:
            self._bell.listener.close()
            self._bell = None
        super().close_connection(connection)


class _Bell(NamedTuple):
    """The doorbells of the queues a connection consumes."""

    queues: frozenset[str]
    listener: wake.Listener

    def deaf(self) -> frozenset[str]:
        """The queues whose doorbell the listener cannot hear (never opened, or lost and not opened again)."""
        return self.queues - {path.name for path in self.listener.listening}


def connection(root: str | os.PathLike[str], **transport_options: Any) -> kombu.Connection:
    """A kombu connection to the embedded broker rooted at ``root``."""
    return kombu.Connection(transport=TRANSPORT, transport_options={"root": os.fspath(root), **transport_options})
