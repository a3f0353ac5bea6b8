"""What a model file would import, found by one inert walk that reads the bytes as the loader will.

The walk is a model of pickle's stack machine written here, not a pickle unpickler: it reads
every opcode, follows the stack, the marks and the memo, and builds nothing but literal
values (strings, numbers, tuples, lists, dicts) and, for joblib's arrays, the real
``numpy.dtype`` from literal arguments (to know an array's byte size). Every other value is
an opaque placeholder. Each ``GLOBAL``/``INST``/``STACK_GLOBAL`` is recorded; a
``STACK_GLOBAL`` whose operands are not literal strings is recorded as unresolvable.

It does not depend on joblib. A standalone model file is read the way ``joblib.load`` reads it
(joblib 1.4 to 1.6 agree on this), a pickle in an MLflow folder the way ``pickle.load`` does:

- **Container** (joblib mode): see :mod:`mlgate.security.joblib_format`.
- **Arrays** (joblib mode, outer stream only): a ``joblib.numpy_pickle.NumpyArrayWrapper`` is
  accepted only as joblib writes it: the class, ``NEWOBJ`` with no arguments, ``BUILD`` with a
  fresh literal dict of the six known attributes. After that ``BUILD`` joblib reads the array
  from the file: an optional padding byte and padding, then ``count * itemsize`` bytes, which
  the walk skips; an object array is a nested pickle stream instead, walked by this same
  walker. Any other use of the wrapper (called, passed on, fetched again from the memo, in a
  nested stream or in a plain pickle) is refused, since a loader would read it differently.
- **Frames**: pickle's Python unpickler (which joblib uses for the outer stream) reads a whole
  protocol-4 frame at once, while joblib reads array data from the file underneath. An array
  whose ``BUILD`` is not the last byte of its frame, and a nested stream that stops inside a
  frame, are refused: the readers would no longer agree on where the next opcode is.
- Refused outright: persistent ids, the copyreg extension registry (``EXT1/2/4``: names the
  walk cannot see), protocol-5 out-of-band buffers (``NEXT_BUFFER``/``READONLY_BUFFER``),
  unknown opcodes, truncated streams, and a ``POP`` that would remove a mark.

A refusal raises :class:`WalkRefused` (a ``ValueError``) saying why.
"""

from __future__ import annotations

import _compat_pickle
import struct
import sys
from dataclasses import dataclass, field
from typing import Any

from mlgate.security.joblib_format import (
    JOBLIB,
    PICKLE,
    ArrayLayout,
    WalkRefused,
    array_layout,
    container_stream,
)

__all__ = ["JOBLIB", "PICKLE", "UNRESOLVABLE", "WRAPPER", "ArrayLayout", "Walk", "WalkRefused", "array_layout",
           "compat_name", "container_stream", "stream_globals", "walk_file"]

UNRESOLVABLE = ("?", "?")
WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")


@dataclass
class Walk:
    """The globals a file names, in order, and what the walk went through to find them."""

    globals: list[tuple[str, str]] = field(default_factory=list)
    mode: str = JOBLIB
    container: str = "raw"
    arrays: int = 0
    nested: int = 0
    opcodes: int = 0


def walk_file(data: bytes, mode: str = JOBLIB) -> tuple[Walk, bytes]:
    """Walk a model file's bytes; return the walk and the pickle stream the loader must read."""
    walk = Walk(mode=mode)
    walk.container, stream = container_stream(data, mode)
    _walk_stream(stream, 0, walk, arrays=mode == JOBLIB)
    return walk, stream


def stream_globals(stream: bytes, mode: str = JOBLIB) -> Walk:
    """The walk of an uncompressed pickle stream (``walk_file`` without the container)."""
    walk = Walk(mode=mode)
    _walk_stream(stream, 0, walk, arrays=mode == JOBLIB)
    return walk


# ---- the walker ---------------------------------------------------------------------------


class _Opaque:
    """Any value the walk does not build: the result of a call, a string it does not decode, ..."""

    __slots__ = ()


class _Global(_Opaque):
    __slots__ = ("name",)

    def __init__(self, name: tuple[str, str]) -> None:
        self.name = name


class _WrapperClass(_Opaque):
    __slots__ = ()


class _DTypeClass(_Global):
    """``numpy.dtype`` or a ``numpy.dtypes`` class: only ``REDUCE`` with literal arguments may use it."""

    __slots__ = ()


class _Wrapper(_Opaque):
    __slots__ = ()


class _DType(_Opaque):
    """``numpy.dtype(*args)`` as the loader will build it; ``dtype`` once its state is checked."""

    __slots__ = ("args", "dtype")

    def __init__(self, args: tuple[Any, ...]) -> None:
        self.args, self.dtype = args, None

    def real(self) -> Any:
        if self.dtype is None:  # never given a state: numpy's own default for the spec
            self.dtype = _dtype_of(self.args)
        return self.dtype


_OPAQUE = _Opaque()


class _Reader:
    """The bytes as pickle's Python unpickler reads them: a position and the frame it is in."""

    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos, self.frame_end = data, pos, -1

    def _enter(self, n: int) -> None:
        if self.frame_end >= 0:
            if self.pos == self.frame_end and n:
                self.frame_end = -1
            elif self.pos + n > self.frame_end:
                raise WalkRefused("an opcode runs past the end of its frame")

    def read(self, n: int) -> bytes:
        self._enter(n)
        end = self.pos + n
        if end > len(self.data):
            raise WalkRefused("the pickle stream is truncated")
        chunk, self.pos = self.data[self.pos:end], end
        return chunk

    def line(self) -> bytes:
        self._enter(1)
        limit = self.frame_end if self.frame_end >= 0 else len(self.data)
        end = self.data.find(b"\n", self.pos, limit)
        if end < 0:
            raise WalkRefused("a text opcode without its end of line")
        chunk, self.pos = self.data[self.pos:end], end + 1
        return chunk

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def pending(self) -> bool:
        """Bytes of the current frame are still unread (joblib's file reads would skip them)."""
        return self.frame_end >= 0 and self.pos < self.frame_end

    def frame(self, size: int) -> None:
        if self.pending():
            raise WalkRefused("a frame starts before the previous one ends")
        if size > sys.maxsize or self.pos + size > len(self.data):
            raise WalkRefused("a frame is longer than the stream")
        self.frame_end = self.pos + size


_REFUSED_OPS = {b"P": "a persistent id (PERSID)", b"Q": "a persistent id (BINPERSID)",
                b"\x82": "the copyreg extension registry (EXT1)", b"\x83": "the copyreg extension registry (EXT2)",
                b"\x84": "the copyreg extension registry (EXT4)",
                b"\x97": "a protocol-5 out-of-band buffer (NEXT_BUFFER)",
                b"\x98": "a protocol-5 out-of-band buffer (READONLY_BUFFER)"}


class _Machine:
    """One pickle stream's stack, marks and memo, as ``pickle._Unpickler`` keeps them."""

    def __init__(self, reader: _Reader, walk: Walk, arrays: bool) -> None:
        self.r, self.walk, self.arrays = reader, walk, arrays
        self.stack: list[Any] = []
        self.metastack: list[list[Any]] = []
        self.memo: dict[int, Any] = {}
        self.proto = 0
        self.escaped: set[int] = set()

    # -- values

    def pop(self) -> Any:
        if not self.stack:
            raise WalkRefused("the pickle stack underflows")
        value = self.stack.pop()
        _no_wrapper(value)
        return value

    def pop_mark(self) -> list[Any]:
        if not self.metastack:
            raise WalkRefused("an opcode needs a mark that is not there")
        items, self.stack = self.stack, self.metastack.pop()
        for item in items:
            _no_wrapper(item)
        return items

    def top(self) -> Any:
        if not self.stack:
            raise WalkRefused("the pickle stack underflows")
        return self.stack[-1]

    def escape(self, value: Any) -> None:
        """``value`` reaches code a loader runs: its literal containers may change behind the walk's back."""
        todo = [value]
        while todo:
            item = todo.pop()
            if isinstance(item, (list, dict, set, tuple)) and id(item) not in self.escaped:
                self.escaped.add(id(item))
                todo += list(item.items()) if isinstance(item, dict) else list(item)

    def record(self, module: str, name: str) -> Any:
        found = compat_name(module, name, self.proto)
        self.walk.globals.append(found)
        if found == WRAPPER:
            if not self.arrays:
                raise WalkRefused("joblib.numpy_pickle.NumpyArrayWrapper inside a nested stream or a plain pickle, "
                                  "which loaders "
                                  "read differently")
            return _WrapperClass()
        if found == ("numpy", "dtype") or found[0] == "numpy.dtypes":
            return _DTypeClass(found)
        return _Global(found)

    # -- the loop

    def run(self) -> int:
        r = self.r
        while True:
            op = r.read(1)
            self.walk.opcodes += 1
            if op == b".":  # STOP
                self.pop()
                return r.pos
            handler = _HANDLERS.get(op)
            if handler is None:
                refused = _REFUSED_OPS.get(op)
                raise WalkRefused(refused + " is not allowed in a model file" if refused
                                  else f"unknown opcode {op!r} at byte {r.pos - 1}")
            handler(self)

    # -- opcodes that build objects

    def build(self) -> None:
        state = self.pop()
        inst = self.top()
        if isinstance(inst, _Wrapper):
            self.read_array(state)
            return
        _no_wrapper(inst)
        if isinstance(inst, _DType):
            inst.dtype = _dtype_with_state(inst.args, state)
            return
        self.escape(state)

    def read_array(self, state: Any) -> None:
        if id(state) in self.escaped:
            raise WalkRefused("a joblib array wrapper whose state was shared with other objects")
        if type(state) is dict and isinstance(state.get("dtype"), _DType):
            state = {**state, "dtype": state["dtype"].real()}
        layout = array_layout(state)
        if self.r.pending():
            raise WalkRefused("a joblib array inside a pickle frame (its data would be read from after the frame)")
        self.walk.arrays += 1
        if layout.nested:
            self.walk.nested += 1
            self.r.pos = _walk_stream(self.r.data, self.r.pos, self.walk, arrays=False)
        else:
            if layout.padded:
                padding = self.r.read(1)[0]
                self.r.read(padding)
            self.r.read(layout.nbytes)
        self.r.frame_end = -1
        self.stack[-1] = _OPAQUE

    def reduce(self) -> None:
        args = self.pop()
        if not self.stack:
            raise WalkRefused("the pickle stack underflows")
        func = self.stack.pop()
        if isinstance(func, _DTypeClass):  # numpy.dtype(spec, align, copy) with literal arguments only
            if func.name != ("numpy", "dtype"):
                raise WalkRefused(f"{'.'.join(func.name)} called directly (numpy pickles dtypes as numpy.dtype)")
            self.stack.append(_dtype(args))
            return
        _no_wrapper(func)
        self.escape(args)
        self.stack.append(_OPAQUE)

    def newobj(self) -> None:
        args = self.pop()
        if not self.stack:
            raise WalkRefused("the pickle stack underflows")
        cls = self.stack.pop()
        if isinstance(cls, _WrapperClass):
            if type(args) is not tuple or args != ():
                raise WalkRefused("a joblib array wrapper created with arguments")
            self.stack.append(_Wrapper())
            return
        _no_wrapper(cls)
        self.escape(args)
        self.stack.append(_OPAQUE)


def _no_wrapper(value: Any) -> None:
    if isinstance(value, (_Wrapper, _WrapperClass)):
        raise WalkRefused("a joblib array wrapper used other than the way joblib writes it")
    if isinstance(value, _DTypeClass):
        # a dtype made any other way could be given a state numpy's __setstate__ crashes on
        raise WalkRefused(f"{'.'.join(value.name)} used other than the way numpy pickles a dtype")


def _dtype(args: Any) -> Any:
    """The walk's value for ``numpy.dtype(*args)``: the arguments numpy writes, or refused."""
    if type(args) is not tuple or len(args) != 3 or type(args[0]) is not str or type(args[1]) not in (bool, int):
        raise WalkRefused("numpy.dtype with arguments that are not the literal (spec, align, copy) numpy writes")
    if not args[2]:
        raise WalkRefused("a numpy dtype unpickled without copy=True (numpy writes it with a copy; without "
                          "one the file would change numpy's shared dtypes)")
    return _DType(args)


def _dtype_of(args: tuple[Any, ...]) -> Any:
    import numpy as np

    try:
        return np.dtype(args[0], bool(args[1]), True)
    except Exception as exc:  # numpy rejects the spec; the loader would fail the same way
        raise WalkRefused(f"a numpy dtype numpy cannot build ({args[0]!r})") from exc


def _dtype_with_state(args: tuple[Any, ...], state: Any) -> Any:
    """The dtype ``numpy.dtype(*args).__setstate__(state)`` gives, without calling ``__setstate__``.

    numpy's dtype ``__setstate__`` trusts its input (a fuzzed state can crash the process), so
    the walk rebuilds the dtype from the spec, the byte order and the fields and accepts the
    state only when it is exactly the state numpy writes for that dtype.
    """
    import numpy as np

    if type(state) is not tuple or len(state) != 8 or state[0] != 3 or state[2] is not None:
        raise WalkRefused("a numpy dtype state that numpy does not write")
    _version, order, _sub, names, fields, elsize, _align, _flags = state
    base = _dtype_of(args)
    try:
        if names is None:
            candidate = base.newbyteorder(order) if order in ("<", ">", "=") else base
        else:
            if type(names) is not tuple or type(fields) is not dict or set(names) != set(fields):
                raise WalkRefused("a structured numpy dtype with inconsistent names and fields")
            formats, offsets = [], []
            for name in names:
                entry = fields[name]
                if type(entry) is not tuple or len(entry) != 2 or type(entry[1]) is not int:
                    raise WalkRefused("a structured numpy dtype field that numpy does not write")
                sub = entry[0].real() if isinstance(entry[0], _DType) else entry[0]
                if not isinstance(sub, np.dtype):
                    raise WalkRefused("a structured numpy dtype whose field type is not a literal dtype")
                formats.append(sub)
                offsets.append(entry[1])
            candidate = np.dtype({"names": list(names), "formats": formats, "offsets": offsets,
                                  "itemsize": elsize}, align=bool(args[1]))
        expected = candidate.__reduce__()[2]
    except WalkRefused:
        raise
    except Exception as exc:  # numpy rejects the combination; so would the loader
        raise WalkRefused(f"a numpy dtype numpy cannot build ({exc})") from exc
    if _real_state(state) != expected:
        raise WalkRefused("a numpy dtype state that differs from the one numpy writes for that dtype")
    return candidate


def _real_state(value: Any) -> Any:
    if isinstance(value, _DType):
        return value.real()
    if type(value) is tuple:
        return tuple(_real_state(v) for v in value)
    if type(value) is dict:
        return {k: _real_state(v) for k, v in value.items()}
    return value


def _walk_stream(data: bytes, pos: int, walk: Walk, *, arrays: bool) -> int:
    """Walk one pickle stream starting at ``pos``; return where a loader's next read starts."""
    machine = _Machine(_Reader(data, pos), walk, arrays)
    try:
        end = machine.run()
    except WalkRefused:
        raise
    except Exception as exc:  # anything unexpected in the walk refuses the file: fail closed
        raise WalkRefused(f"the walk could not follow the stream ({type(exc).__name__}: {exc})") from exc
    if not arrays and machine.r.pending():
        raise WalkRefused("a nested stream stops inside a frame (readers would resume at different bytes)")
    return end


def compat_name(module: str, name: str, proto: int) -> tuple[str, str]:
    """The name the unpickler will really import (Python 2 names are mapped for protocol < 3)."""
    if proto < 3:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
    return module, name


# ---- opcode handlers (pickle._Unpickler's semantics, without building anything) -------------


def _push(value: Any) -> Any:
    return lambda m: m.stack.append(value)


def _push_read(fmt: str, convert: Any = None) -> Any:
    def handler(m: _Machine) -> None:
        value = m.r.unpack(fmt)
        m.stack.append(convert(value) if convert else value)
    return handler


def _counted(fmt: str, kind: str) -> Any:
    def handler(m: _Machine) -> None:
        size = m.r.unpack(fmt)
        if size < 0 or size > sys.maxsize:
            raise WalkRefused("a negative or oversized length")
        raw = m.r.read(size)
        if kind == "str":
            try:
                m.stack.append(raw.decode("utf-8", "surrogatepass"))
            except UnicodeDecodeError as exc:
                raise WalkRefused("a string that is not UTF-8") from exc
        elif kind == "bytes":
            m.stack.append(raw)
        elif kind == "long":
            m.stack.append(int.from_bytes(raw, "little", signed=True))
        else:
            m.stack.append(_OPAQUE)
    return handler


def _text_int(m: _Machine) -> None:
    line = m.r.line()
    try:
        m.stack.append(False if line == b"00" else True if line == b"01" else int(line, 0))
    except ValueError as exc:
        raise WalkRefused("an INT opcode that is not a number") from exc


def _text_long(m: _Machine) -> None:
    line = m.r.line()
    try:
        m.stack.append(int(line[:-1] if line.endswith(b"L") else line, 0))
    except ValueError as exc:
        raise WalkRefused("a LONG opcode that is not a number") from exc


def _text_float(m: _Machine) -> None:
    try:
        m.stack.append(float(m.r.line()))
    except ValueError as exc:
        raise WalkRefused("a FLOAT opcode that is not a number") from exc


def _text_unicode(m: _Machine) -> None:
    try:
        m.stack.append(m.r.line().decode("raw-unicode-escape"))
    except UnicodeDecodeError as exc:
        raise WalkRefused("a UNICODE opcode that does not decode") from exc


def _text_opaque(m: _Machine) -> None:
    m.r.line()
    m.stack.append(_OPAQUE)


def _names(m: _Machine) -> tuple[str, str]:
    try:
        return m.r.line().decode("utf-8"), m.r.line().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WalkRefused("a global whose name is not UTF-8") from exc


def _global(m: _Machine) -> None:
    m.stack.append(m.record(*_names(m)))


def _inst(m: _Machine) -> None:
    cls = m.record(*_names(m))
    if isinstance(cls, _WrapperClass):
        raise WalkRefused("a joblib array wrapper created with INST")
    m.escape(m.pop_mark())
    m.stack.append(_OPAQUE)


def _stack_global(m: _Machine) -> None:
    name = m.pop()
    module = m.pop()
    if type(module) is str and type(name) is str:
        m.stack.append(m.record(module, name))
    else:
        m.walk.globals.append(UNRESOLVABLE)
        m.stack.append(_OPAQUE)


def _obj(m: _Machine) -> None:
    items = m.pop_mark()
    if not items:
        raise WalkRefused("OBJ without a class")
    m.escape(items)
    m.stack.append(_OPAQUE)


def _newobj_ex(m: _Machine) -> None:
    kwargs, args, _cls = m.pop(), m.pop(), m.pop()
    m.escape((args, kwargs))
    m.stack.append(_OPAQUE)


def _proto(m: _Machine) -> None:
    proto = m.r.read(1)[0]
    if proto > 5:
        raise WalkRefused(f"unsupported pickle protocol {proto}")
    m.proto = proto


def _frame(m: _Machine) -> None:
    m.r.frame(m.r.unpack("<Q"))


def _pop(m: _Machine) -> None:
    if not m.stack:
        raise WalkRefused("a POP that removes a mark")
    m.pop()


def _dup(m: _Machine) -> None:
    top = m.top()
    _no_wrapper(top)
    m.stack.append(top)


def _mark(m: _Machine) -> None:
    m.metastack.append(m.stack)
    m.stack = []


def _tuple_n(n: int) -> Any:
    def handler(m: _Machine) -> None:
        items = [m.pop() for _ in range(n)]
        m.stack.append(tuple(reversed(items)))
    return handler


def _container_add(m: _Machine, target: Any, items: list[Any]) -> None:
    """APPEND(S)/ADDITEMS: a literal container takes the items; anything else runs code with them."""
    if isinstance(target, list):
        target.extend(items)
    elif isinstance(target, set):
        try:
            target.update(items)
        except TypeError as exc:
            raise WalkRefused("an unhashable set item") from exc
    else:
        _no_wrapper(target)
        m.escape(items)
        return
    if id(target) in m.escaped:
        m.escape(items)


def _append(m: _Machine) -> None:
    value = m.pop()
    _container_add(m, m.top(), [value])


def _appends(m: _Machine) -> None:
    items = m.pop_mark()
    _container_add(m, m.top(), items)


def _additems(m: _Machine) -> None:
    items = m.pop_mark()
    _container_add(m, m.top(), items)


def _set_items(m: _Machine, pairs: list[Any]) -> None:
    if len(pairs) % 2:
        raise WalkRefused("SETITEMS with an odd number of items")
    target = m.top()
    if isinstance(target, dict):
        try:
            for i in range(0, len(pairs), 2):
                target[pairs[i]] = pairs[i + 1]
        except TypeError as exc:
            raise WalkRefused("an unhashable dict key") from exc
        if id(target) in m.escaped:
            m.escape(pairs)
    else:
        _no_wrapper(target)
        m.escape(pairs)


def _setitem(m: _Machine) -> None:
    value = m.pop()
    key = m.pop()
    _set_items(m, [key, value])


def _setitems(m: _Machine) -> None:
    _set_items(m, m.pop_mark())


def _dict(m: _Machine) -> None:
    items = m.pop_mark()
    if len(items) % 2:
        raise WalkRefused("DICT with an odd number of items")
    try:
        m.stack.append({items[i]: items[i + 1] for i in range(0, len(items), 2)})
    except TypeError as exc:
        raise WalkRefused("an unhashable dict key") from exc


def _push_marked(m: _Machine, kind: Any) -> None:
    items = m.pop_mark()  # first: it replaces m.stack
    m.stack.append(kind(items))


def _frozenset(m: _Machine) -> None:
    items = m.pop_mark()
    try:
        m.stack.append(frozenset(items))
    except TypeError as exc:
        raise WalkRefused("an unhashable set item") from exc


def _get(index: int, m: _Machine) -> None:
    if index not in m.memo:
        raise WalkRefused("a memo lookup of an entry that was never stored")
    value = m.memo[index]
    if isinstance(value, _Wrapper):
        raise WalkRefused("a joblib array wrapper fetched again from the memo")
    m.stack.append(value)


def _put(index: int, m: _Machine) -> None:
    if index < 0:
        raise WalkRefused("a negative memo index")
    m.memo[index] = m.top()


def _text_index(m: _Machine) -> int:
    try:
        return int(m.r.line())
    except ValueError as exc:
        raise WalkRefused("a memo index that is not a number") from exc


_HANDLERS: dict[bytes, Any] = {
    b"(": _mark, b"0": _pop, b"1": lambda m: m.pop_mark(), b"2": _dup,
    b"N": _push(None), b"\x88": _push(True), b"\x89": _push(False),
    b"I": _text_int, b"L": _text_long, b"F": _text_float,
    b"J": _push_read("<i"), b"K": _push_read("<B"), b"M": _push_read("<H"), b"G": _push_read(">d"),
    b"\x8a": _counted("<B", "long"), b"\x8b": _counted("<i", "long"),
    b"S": _text_opaque, b"V": _text_unicode,
    b"T": _counted("<i", "opaque"), b"U": _counted("<B", "opaque"),
    b"B": _counted("<I", "bytes"), b"C": _counted("<B", "bytes"), b"\x8e": _counted("<Q", "bytes"),
    b"\x96": _counted("<Q", "opaque"),
    b"X": _counted("<I", "str"), b"\x8c": _counted("<B", "str"), b"\x8d": _counted("<Q", "str"),
    b")": lambda m: m.stack.append(()), b"\x85": _tuple_n(1), b"\x86": _tuple_n(2), b"\x87": _tuple_n(3),
    b"t": lambda m: _push_marked(m, tuple),
    b"]": lambda m: m.stack.append([]), b"l": lambda m: _push_marked(m, list),
    b"}": lambda m: m.stack.append({}), b"d": _dict,
    b"\x8f": lambda m: m.stack.append(set()), b"\x91": _frozenset,
    b"a": _append, b"e": _appends, b"\x90": _additems, b"s": _setitem, b"u": _setitems,
    b"c": _global, b"i": _inst, b"\x93": _stack_global,
    b"R": _Machine.reduce, b"\x81": _Machine.newobj, b"\x92": _newobj_ex, b"o": _obj, b"b": _Machine.build,
    b"g": lambda m: _get(_text_index(m), m), b"h": lambda m: _get(m.r.unpack("<B"), m),
    b"j": lambda m: _get(m.r.unpack("<I"), m),
    b"p": lambda m: _put(_text_index(m), m), b"q": lambda m: _put(m.r.unpack("<B"), m),
    b"r": lambda m: _put(m.r.unpack("<I"), m), b"\x94": lambda m: _put(len(m.memo), m),
    b"\x80": _proto, b"\x95": _frame,
}
