//! What ruchy-trace knows of WASI preview 1 (`wasi_snapshot_preview1`):
//! the one table of decoded functions, how their arguments and results are
//! read from guest memory at the moment of the call, and how they read in a
//! trace, strace-style:
//!
//! ```text
//! -> wasi_snapshot_preview1::fd_write(fd: 1 <stdout>, iovs: ["5\n"])
//! <- wasi_snapshot_preview1::fd_write() = 0 (nwritten: 2)
//! ```
//!
//! A known function (in [`FUNCTIONS`], with the table's arity) reports
//! through a host hook: at entry the host reads what the arguments point
//! to (the bytes `fd_write` writes, the path `path_open` opens), at exit
//! what the call wrote back (`nwritten`, the bytes `fd_read` read, the
//! strings of `args_get`); the exit hook also receives the call's
//! arguments, which say where those results are. The same [`walk`] reads
//! live memory in the host, keeping every byte it reads in a
//! [`Snapshot`], and that snapshot in the decoder, so every host and every
//! format show the same values. Buffers are cut at the table's
//! [`Limits`] and marked as cut. An unknown import, or one whose wasm
//! signature does not match the table, keeps plain wasm-typed values.

use crate::event::{Event, EventKind};
use crate::format::push_json_str;
use crate::record::RecordKind;
use crate::source::{Limits, Memory, Recording, Snapshot};
use crate::table::FunctionInfo;
use crate::value::{ValType, Value};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

/// The import module of WASI preview 1.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// Most iovecs of one call read: WASI's `IOV_MAX`.
pub const MAX_IOVS: u32 = 1024;

/// How one parameter of a known function is read and shown. Kinds that
/// name another parameter hold its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A number.
    Int,
    /// A number shown in hexadecimal (rights).
    Hex,
    /// A file descriptor: 0, 1 and 2 name their stream (`1 <stdout>`).
    Fd,
    /// A clock id: `realtime`, `monotonic`, `process_cputime_id`,
    /// `thread_cputime_id`.
    Clock,
    /// A seek origin: `set`, `cur`, `end`.
    Whence,
    /// Bit flags, named from bit 0 up (`CREAT|TRUNC`).
    Flags(&'static [&'static str]),
    /// Part of another parameter's value (a buffer's length), not shown
    /// on its own.
    Part,
    /// An address, shown as such and not read.
    Address,
    /// `count` (a parameter) ciovecs: the bytes written, read at entry.
    WriteIovs {
        /// The parameter holding the iovec count.
        count: u8,
    },
    /// `count` iovecs the call fills: at exit, the bytes read, as many as
    /// the `u32` parameter `done` points to.
    ReadIovs {
        /// The parameter holding the iovec count.
        count: u8,
        /// The parameter pointing to the count of bytes read.
        done: u8,
    },
    /// A string of `len` (a parameter) bytes, read at entry: a path.
    Path {
        /// The parameter holding the length.
        len: u8,
    },
    /// A buffer of `len` (a parameter) bytes the call fills: its name at
    /// entry, its bytes at exit.
    OutBytes {
        /// The parameter holding the length.
        len: u8,
    },
    /// A `u32` the call writes, shown at exit.
    OutU32,
    /// A `u64` the call writes, shown at exit.
    OutU64,
    /// An array of pointers to the NUL-terminated strings the call packs
    /// into the buffer parameter `buf` points to (`args_get`,
    /// `environ_get`), shown at exit.
    OutStrings {
        /// The parameter pointing to the string buffer.
        buf: u8,
    },
}

/// One parameter of a known function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// Its name in the WASI specification.
    pub name: &'static str,
    /// How it is read and shown.
    pub kind: Kind,
}

/// One known function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    /// Its field name.
    pub name: &'static str,
    /// Its parameters, in wasm order.
    pub params: &'static [Param],
    /// Whether it returns an errno (every function but `proc_exit`).
    pub errno: bool,
}

const fn p(name: &'static str, kind: Kind) -> Param {
    Param { name, kind }
}

const fn f(name: &'static str, params: &'static [Param]) -> Function {
    Function {
        name,
        params,
        errno: true,
    }
}

const LOOKUP_FLAGS: &[&str] = &["SYMLINK_FOLLOW"];
const OPEN_FLAGS: &[&str] = &["CREAT", "DIRECTORY", "EXCL", "TRUNC"];
const FD_FLAGS: &[&str] = &["APPEND", "DSYNC", "NONBLOCK", "RSYNC", "SYNC"];
const CLOCKS: &[&str] = &[
    "realtime",
    "monotonic",
    "process_cputime_id",
    "thread_cputime_id",
];
const WHENCE: &[&str] = &["set", "cur", "end"];

/// The decoded functions.
pub const FUNCTIONS: &[Function] = &[
    f(
        "args_get",
        &[
            p("argv", Kind::OutStrings { buf: 1 }),
            p("argv_buf", Kind::Part),
        ],
    ),
    f(
        "args_sizes_get",
        &[p("argc", Kind::OutU32), p("argv_buf_size", Kind::OutU32)],
    ),
    f(
        "environ_get",
        &[
            p("environ", Kind::OutStrings { buf: 1 }),
            p("environ_buf", Kind::Part),
        ],
    ),
    f(
        "environ_sizes_get",
        &[p("count", Kind::OutU32), p("buf_size", Kind::OutU32)],
    ),
    f(
        "clock_res_get",
        &[p("id", Kind::Clock), p("resolution", Kind::OutU64)],
    ),
    f(
        "clock_time_get",
        &[
            p("id", Kind::Clock),
            p("precision", Kind::Int),
            p("time", Kind::OutU64),
        ],
    ),
    f("fd_close", &[p("fd", Kind::Fd)]),
    f(
        "fd_fdstat_get",
        &[p("fd", Kind::Fd), p("stat", Kind::Address)],
    ),
    f(
        "fd_prestat_get",
        &[p("fd", Kind::Fd), p("buf", Kind::Address)],
    ),
    f(
        "fd_prestat_dir_name",
        &[
            p("fd", Kind::Fd),
            p("path", Kind::OutBytes { len: 2 }),
            p("path_len", Kind::Int),
        ],
    ),
    f(
        "fd_read",
        &[
            p("fd", Kind::Fd),
            p("iovs", Kind::ReadIovs { count: 2, done: 3 }),
            p("iovs_len", Kind::Part),
            p("nread", Kind::OutU32),
        ],
    ),
    f(
        "fd_seek",
        &[
            p("fd", Kind::Fd),
            p("offset", Kind::Int),
            p("whence", Kind::Whence),
            p("newoffset", Kind::OutU64),
        ],
    ),
    f(
        "fd_write",
        &[
            p("fd", Kind::Fd),
            p("iovs", Kind::WriteIovs { count: 2 }),
            p("iovs_len", Kind::Part),
            p("nwritten", Kind::OutU32),
        ],
    ),
    f(
        "path_open",
        &[
            p("fd", Kind::Fd),
            p("dirflags", Kind::Flags(LOOKUP_FLAGS)),
            p("path", Kind::Path { len: 3 }),
            p("path_len", Kind::Part),
            p("oflags", Kind::Flags(OPEN_FLAGS)),
            p("fs_rights_base", Kind::Hex),
            p("fs_rights_inheriting", Kind::Hex),
            p("fdflags", Kind::Flags(FD_FLAGS)),
            p("opened_fd", Kind::OutU32),
        ],
    ),
    f(
        "poll_oneoff",
        &[
            p("in", Kind::Address),
            p("out", Kind::Address),
            p("nsubscriptions", Kind::Int),
            p("nevents", Kind::OutU32),
        ],
    ),
    Function {
        name: "proc_exit",
        params: &[p("code", Kind::Int)],
        errno: false,
    },
    f(
        "random_get",
        &[p("buf", Kind::OutBytes { len: 1 }), p("buf_len", Kind::Int)],
    ),
    f("sched_yield", &[]),
];

/// Errno names, by value (WASI preview 1's `errno` enumeration).
const ERRNO: [&str; 77] = [
    "SUCCESS",
    "E2BIG",
    "EACCES",
    "EADDRINUSE",
    "EADDRNOTAVAIL",
    "EAFNOSUPPORT",
    "EAGAIN",
    "EALREADY",
    "EBADF",
    "EBADMSG",
    "EBUSY",
    "ECANCELED",
    "ECHILD",
    "ECONNABORTED",
    "ECONNREFUSED",
    "ECONNRESET",
    "EDEADLK",
    "EDESTADDRREQ",
    "EDOM",
    "EDQUOT",
    "EEXIST",
    "EFAULT",
    "EFBIG",
    "EHOSTUNREACH",
    "EIDRM",
    "EILSEQ",
    "EINPROGRESS",
    "EINTR",
    "EINVAL",
    "EIO",
    "EISCONN",
    "EISDIR",
    "ELOOP",
    "EMFILE",
    "EMLINK",
    "EMSGSIZE",
    "EMULTIHOP",
    "ENAMETOOLONG",
    "ENETDOWN",
    "ENETRESET",
    "ENETUNREACH",
    "ENFILE",
    "ENOBUFS",
    "ENODEV",
    "ENOENT",
    "ENOEXEC",
    "ENOLCK",
    "ENOLINK",
    "ENOMEM",
    "ENOMSG",
    "ENOPROTOOPT",
    "ENOSPC",
    "ENOSYS",
    "ENOTCONN",
    "ENOTDIR",
    "ENOTEMPTY",
    "ENOTRECOVERABLE",
    "ENOTSOCK",
    "ENOTSUP",
    "ENOTTY",
    "ENXIO",
    "EOVERFLOW",
    "EOWNERDEAD",
    "EPERM",
    "EPIPE",
    "EPROTO",
    "EPROTONOSUPPORT",
    "EPROTOTYPE",
    "ERANGE",
    "EROFS",
    "ESPIPE",
    "ESRCH",
    "ESTALE",
    "ETIMEDOUT",
    "ETXTBSY",
    "EXDEV",
    "ENOTCAPABLE",
];

fn lookup(module: &str, field: &str) -> Option<&'static Function> {
    if module != MODULE {
        return None;
    }
    FUNCTIONS.iter().find(|f| f.name == field)
}

/// Parameter names of a known WASI import with `params` parameters; empty
/// when the function is unknown or its arity differs from the table's.
pub fn param_names(module: &str, field: &str, params: usize) -> Vec<String> {
    match lookup(module, field) {
        Some(f) if f.params.len() == params => f.params.iter().map(|p| p.name.into()).collect(),
        _ => Vec::new(),
    }
}

/// The name of WASI errno `value`, when it is one.
pub fn errno_name(value: i32) -> Option<&'static str> {
    usize::try_from(value)
        .ok()
        .and_then(|i| ERRNO.get(i).copied())
}

/// The known function a traced import `f` calls, when its values are
/// decoded: a WASI import whose wasm signature has the table's arity, every
/// parameter an integer, one `i32` result for an errno, and whose
/// parameter names the instrumenter took from the table (it leaves them out
/// when the trace asks for wasm types only).
pub fn known(f: &FunctionInfo) -> Option<&'static Function> {
    let import = f.import.as_ref()?;
    let call = lookup(&import.module, &import.field)?;
    let names_match = f.param_names.len() == call.params.len()
        && f.param_names
            .iter()
            .zip(call.params)
            .all(|(n, p)| n == p.name);
    let ints = f
        .params
        .iter()
        .all(|t| matches!(t, ValType::I32 | ValType::I64));
    let results_match = if call.errno {
        f.results == [ValType::I32]
    } else {
        f.results.is_empty()
    };
    (names_match && ints && results_match).then_some(call)
}

/// Whether entries of `f` read guest memory (the bytes `fd_write` writes,
/// the path `path_open` opens).
pub fn entry_reads_memory(f: &FunctionInfo) -> bool {
    known(f).is_some_and(|c| {
        c.params
            .iter()
            .any(|p| matches!(p.kind, Kind::WriteIovs { .. } | Kind::Path { .. }))
    })
}

/// Whether exits of `f` read guest memory (what the call wrote back). The
/// exit hook of such a function receives its arguments after its result.
pub fn exit_reads_memory(f: &FunctionInfo) -> bool {
    known(f).is_some_and(|c| {
        c.params.iter().any(|p| {
            matches!(
                p.kind,
                Kind::ReadIovs { .. }
                    | Kind::OutBytes { .. }
                    | Kind::OutU32
                    | Kind::OutU64
                    | Kind::OutStrings { .. }
            )
        })
    })
}

/// A decoded argument or result value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WasiValue {
    /// A signed number.
    Int(i64),
    /// An unsigned number (a `u64` the call wrote).
    UInt(u64),
    /// A number shown in hexadecimal.
    Hex(u64),
    /// A file descriptor, with its stream's name for 0, 1 and 2.
    Fd(i64),
    /// A value of an enumeration, with its name when it has one.
    Named(u64, Option<&'static str>),
    /// Bit flags and the names of their bits.
    Flags(u64, &'static [&'static str]),
    /// An address not read.
    Address(u32),
    /// A buffer the call will fill: shown by its name only at entry.
    Buffer(u32),
    /// Bytes read from guest memory: the shown part and the full length,
    /// `None` when the length is unknown (a string whose end was not
    /// read). Cut when shorter than the full length.
    Bytes {
        /// The bytes shown.
        data: Vec<u8>,
        /// The full length, when known.
        len: Option<u64>,
    },
    /// A list (of iovec buffers, of strings), and whether more followed
    /// than are shown.
    List {
        /// The items shown.
        items: Vec<WasiValue>,
        /// Whether more were left out.
        more: bool,
    },
    /// Memory at this address could not be read.
    Unreadable(u32),
}

impl WasiValue {
    /// Whether this value was cut to the limits.
    pub fn is_cut(&self) -> bool {
        match self {
            WasiValue::Bytes { data, len } => len.is_none_or(|l| l > data.len() as u64),
            WasiValue::List { items, more } => *more || items.iter().any(WasiValue::is_cut),
            _ => false,
        }
    }
}

/// A named decoded argument (or, at exit, a value the call wrote back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasiArg {
    /// The parameter's name.
    pub name: &'static str,
    /// Its value.
    pub value: WasiValue,
}

/// What one event of a known WASI call shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The function.
    pub function: &'static Function,
    /// At entry the arguments; at exit the values the call wrote back
    /// (none when it failed).
    pub args: Vec<WasiArg>,
    /// At exit, the errno it returned.
    pub errno: Option<i32>,
}

/// When a known call's values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// At entry: what the arguments point to.
    Entry,
    /// At a successful exit: what the call wrote back.
    Exit,
}

fn uint(v: Option<&Value>) -> u64 {
    match v {
        Some(Value::I32(x)) => u64::from(*x as u32),
        Some(Value::I64(x)) => *x as u64,
        _ => 0,
    }
}

fn int(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::I32(x)) => i64::from(*x),
        Some(Value::I64(x)) => *x,
        _ => 0,
    }
}

fn word(mem: &mut dyn Memory, addr: u32) -> Option<u32> {
    mem.read(addr, 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// At most `shown` bytes at `addr` of a buffer `len` long.
fn bytes(mem: &mut dyn Memory, addr: u32, len: u64, budget: &mut u64) -> WasiValue {
    let shown = len.min(*budget);
    *budget -= shown;
    if shown == 0 {
        return WasiValue::Bytes {
            data: Vec::new(),
            len: Some(len),
        };
    }
    match mem.read(addr, shown as u32) {
        Some(b) => WasiValue::Bytes {
            data: b.to_vec(),
            len: Some(len),
        },
        None => WasiValue::Unreadable(addr),
    }
}

/// The buffers of `count` iovecs at `iovs`, at most `total` bytes of them
/// (the bytes a read transferred), within the limits.
fn iovecs(
    mem: &mut dyn Memory,
    iovs: u32,
    count: u32,
    total: Option<u64>,
    limits: Limits,
) -> WasiValue {
    let n = count.min(MAX_IOVS);
    let Some(table) = mem.read(iovs, n.saturating_mul(8)).map(<[u8]>::to_vec) else {
        return WasiValue::Unreadable(iovs);
    };
    let mut budget = u64::from(limits.max_string);
    let mut left = total.unwrap_or(u64::MAX);
    let mut items = Vec::new();
    let mut more = count > n;
    for iov in table.chunks_exact(8) {
        if total.is_some() && left == 0 {
            break;
        }
        if items.len() as u32 >= limits.max_elements {
            more = true;
            break;
        }
        let buf = u32::from_le_bytes([iov[0], iov[1], iov[2], iov[3]]);
        let len = u64::from(u32::from_le_bytes([iov[4], iov[5], iov[6], iov[7]])).min(left);
        left -= len;
        items.push(bytes(mem, buf, len, &mut budget));
    }
    WasiValue::List { items, more }
}

/// A NUL-terminated string at `addr`: at most `max` bytes of it, and its
/// length when its end was within `max + 1` bytes.
fn c_string(mem: &mut dyn Memory, addr: u32, max: u32) -> WasiValue {
    const CHUNK: u32 = 16;
    let mut data = Vec::new();
    while (data.len() as u32) <= max {
        let at = addr.wrapping_add(data.len() as u32);
        let want = CHUNK.min(max + 1 - data.len() as u32);
        let chunk = match mem.read(at, want) {
            Some(b) => b.to_vec(),
            None => match mem.read(at, 1) {
                Some(b) => b.to_vec(),
                None => break,
            },
        };
        if let Some(end) = chunk.iter().position(|&b| b == 0) {
            data.extend_from_slice(&chunk[..end]);
            let len = Some(data.len() as u64);
            return WasiValue::Bytes { data, len };
        }
        data.extend_from_slice(&chunk);
    }
    data.truncate(max as usize);
    WasiValue::Bytes { data, len: None }
}

/// The strings `args_get` or `environ_get` wrote: the pointers at `array`
/// are followed while each one starts where the previous string ended (the
/// first at `buf`), since the call does not say how many it wrote.
fn strings(mem: &mut dyn Memory, array: u32, buf: u32, limits: Limits) -> WasiValue {
    let mut items = Vec::new();
    let mut next = Some(buf);
    let mut more = false;
    for i in 0..=limits.max_elements {
        let Some(at) = word(mem, array.wrapping_add(i.wrapping_mul(4))) else {
            break;
        };
        // A string whose end was not read is followed only by a pointer
        // past what was shown, just after a NUL.
        let follows = match next {
            Some(n) => at == n,
            None => mem.read(at.wrapping_sub(1), 1) == Some(&[0]),
        };
        if !follows || i > 0 && at <= buf {
            break;
        }
        if i == limits.max_elements {
            more = true;
            break;
        }
        let s = c_string(mem, at, limits.max_string);
        next = match &s {
            WasiValue::Bytes { len: Some(l), .. } => Some(at.wrapping_add(*l as u32 + 1)),
            _ => None,
        };
        items.push(s);
    }
    WasiValue::List { items, more }
}

/// Reads what a call of `call` with arguments `args` shows at `stage`,
/// from `mem`: live guest memory in a host (through a [`Recording`]), the
/// recorded snapshot in the decoder.
pub fn walk(
    call: &Function,
    stage: Stage,
    args: &[Value],
    mem: &mut dyn Memory,
    limits: Limits,
) -> Vec<WasiArg> {
    let mut out = Vec::new();
    if args.len() != call.params.len() {
        return out;
    }
    let at = |i: u8| args.get(usize::from(i));
    for (i, param) in call.params.iter().enumerate() {
        let arg = args.get(i);
        let addr = uint(arg) as u32;
        let value = match (stage, param.kind) {
            (_, Kind::Part) => continue,
            (Stage::Entry, Kind::Int) => WasiValue::Int(int(arg)),
            (Stage::Entry, Kind::Hex) => WasiValue::Hex(uint(arg)),
            (Stage::Entry, Kind::Fd) => WasiValue::Fd(int(arg)),
            (Stage::Entry, Kind::Clock) => {
                WasiValue::Named(uint(arg), CLOCKS.get(uint(arg) as usize).copied())
            }
            (Stage::Entry, Kind::Whence) => {
                WasiValue::Named(uint(arg), WHENCE.get(uint(arg) as usize).copied())
            }
            (Stage::Entry, Kind::Flags(names)) => WasiValue::Flags(uint(arg), names),
            (Stage::Entry, Kind::Address) => WasiValue::Address(addr),
            (Stage::Entry, Kind::WriteIovs { count }) => {
                iovecs(mem, addr, uint(at(count)) as u32, None, limits)
            }
            (Stage::Entry, Kind::Path { len }) => {
                bytes(mem, addr, uint(at(len)), &mut u64::from(limits.max_string))
            }
            (Stage::Entry, Kind::ReadIovs { .. } | Kind::OutBytes { .. }) => {
                WasiValue::Buffer(addr)
            }
            (Stage::Exit, Kind::ReadIovs { count, done }) => {
                match word(mem, uint(at(done)) as u32) {
                    Some(n) => iovecs(mem, addr, uint(at(count)) as u32, Some(n.into()), limits),
                    None => WasiValue::Unreadable(uint(at(done)) as u32),
                }
            }
            (Stage::Exit, Kind::OutBytes { len }) => {
                bytes(mem, addr, uint(at(len)), &mut u64::from(limits.max_string))
            }
            (Stage::Exit, Kind::OutU32) => match word(mem, addr) {
                Some(v) => WasiValue::UInt(v.into()),
                None => WasiValue::Unreadable(addr),
            },
            (Stage::Exit, Kind::OutU64) => match mem.read(addr, 8) {
                Some(b) => WasiValue::UInt(u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))),
                None => WasiValue::Unreadable(addr),
            },
            (Stage::Exit, Kind::OutStrings { buf }) => {
                strings(mem, addr, uint(at(buf)) as u32, limits)
            }
            (Stage::Entry, Kind::OutU32 | Kind::OutU64 | Kind::OutStrings { .. })
            | (
                Stage::Exit,
                Kind::Int
                | Kind::Hex
                | Kind::Fd
                | Kind::Clock
                | Kind::Whence
                | Kind::Flags(_)
                | Kind::Address
                | Kind::WriteIovs { .. }
                | Kind::Path { .. },
            ) => continue,
        };
        out.push(WasiArg {
            name: param.name,
            value,
        });
    }
    out
}

/// The snapshot a record of a known call of `f` carries, read from
/// `memory` now; `None` when `f` is not a known WASI call. An entry's
/// snapshot is what its arguments point to; an exit's is the call's
/// arguments (`args`, which its exit hook received after the result: a
/// `u32` count, then each as a little-endian `u64`) followed by what the
/// call wrote back, read only when it returned success.
pub fn snapshot_of_call<M: Memory>(
    f: &FunctionInfo,
    kind: RecordKind,
    values: &[Value],
    args: &[Value],
    memory: M,
    limits: Limits,
) -> Option<Vec<u8>> {
    let call = known(f)?;
    let mut mem = Recording {
        inner: memory,
        snapshot: Snapshot::default(),
    };
    let mut out = Vec::new();
    match kind {
        RecordKind::Enter => {
            walk(call, Stage::Entry, values, &mut mem, limits);
        }
        RecordKind::Exit => {
            out.extend_from_slice(&(args.len() as u32).to_le_bytes());
            for a in args {
                out.extend_from_slice(&uint(Some(a)).to_le_bytes());
            }
            if succeeded(call, values) {
                walk(call, Stage::Exit, args, &mut mem, limits);
            }
        }
        RecordKind::TailExit => return None,
    }
    mem.snapshot.encode(&mut out);
    Some(out)
}

fn succeeded(call: &Function, results: &[Value]) -> bool {
    !call.errno || results.first() == Some(&Value::I32(0))
}

/// The arguments at the start of an exit snapshot, typed as `f`'s
/// parameters, and the rest.
fn exit_args<'s>(f: &FunctionInfo, snapshot: &'s [u8]) -> (Vec<Value>, &'s [u8]) {
    let count = snapshot
        .get(..4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let Some(words) = count
        .checked_mul(8)
        .and_then(|n| snapshot.get(4..4 + n))
        .filter(|_| count == f.params.len())
    else {
        return (Vec::new(), &[]);
    };
    let args = words
        .chunks_exact(8)
        .zip(&f.params)
        .map(|(w, t)| {
            let v = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
            match t {
                ValType::I64 => Value::I64(v as i64),
                _ => Value::I32(v as u32 as i32),
            }
        })
        .collect();
    (args, &snapshot[4 + count * 8..])
}

/// What `event` shows, when it is an entry or exit of a known WASI call:
/// the values read at the time of the call, from its snapshot, within
/// `limits` (the trace's).
pub fn decode(event: &Event<'_>, limits: Limits) -> Option<Decoded> {
    let call = known(event.function)?;
    let values: Vec<Value> = event.values().collect();
    match event.kind {
        EventKind::Enter => {
            let mut mem = Snapshot::decode(event.snapshot).unwrap_or_default();
            Some(Decoded {
                function: call,
                args: walk(call, Stage::Entry, &values, &mut mem, limits),
                errno: None,
            })
        }
        EventKind::Exit => {
            let (args, rest) = exit_args(event.function, event.snapshot);
            let args = if succeeded(call, &values) {
                let mut mem = Snapshot::decode(rest).unwrap_or_default();
                walk(call, Stage::Exit, &args, &mut mem, limits)
            } else {
                Vec::new()
            };
            Some(Decoded {
                function: call,
                args,
                errno: match (call.errno, values.first()) {
                    (true, Some(Value::I32(e))) => Some(*e),
                    _ => None,
                },
            })
        }
        _ => None,
    }
}

/// The stream a descriptor names.
pub fn stream(fd: i64) -> Option<&'static str> {
    ["stdin", "stdout", "stderr"]
        .get(usize::try_from(fd).ok()?)
        .copied()
}

fn write_flags(f: &mut fmt::Formatter<'_>, bits: u64, names: &[&str]) -> fmt::Result {
    if bits == 0 {
        return f.write_str("0");
    }
    let mut first = true;
    let mut rest = bits;
    for (i, name) in names.iter().enumerate() {
        if bits & (1 << i) != 0 {
            if !first {
                f.write_char('|')?;
            }
            f.write_str(name)?;
            first = false;
            rest &= !(1 << i);
        }
    }
    if rest != 0 {
        if !first {
            f.write_char('|')?;
        }
        write!(f, "{rest:#x}")?;
    }
    Ok(())
}

/// `"5\n"`: printable text as is, the usual escapes, other bytes as `\xNN`.
fn write_bytes(f: &mut fmt::Formatter<'_>, data: &[u8]) -> fmt::Result {
    f.write_char('"')?;
    for chunk in data.utf8_chunks() {
        for ch in chunk.valid().chars() {
            match ch {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\t' => f.write_str("\\t")?,
                '\r' => f.write_str("\\r")?,
                c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        for b in chunk.invalid() {
            write!(f, "\\x{b:02x}")?;
        }
    }
    f.write_char('"')
}

impl fmt::Display for WasiValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WasiValue::Int(v) => write!(f, "{v}"),
            WasiValue::UInt(v) => write!(f, "{v}"),
            WasiValue::Hex(v) => write!(f, "{v:#x}"),
            WasiValue::Fd(v) => match stream(*v) {
                Some(s) => write!(f, "{v} <{s}>"),
                None => write!(f, "{v}"),
            },
            WasiValue::Named(_, Some(name)) => f.write_str(name),
            WasiValue::Named(v, None) => write!(f, "{v}"),
            WasiValue::Flags(bits, names) => write_flags(f, *bits, names),
            WasiValue::Address(a) | WasiValue::Buffer(a) => write!(f, "{a:#x}"),
            WasiValue::Bytes { data, len } => {
                write_bytes(f, data)?;
                match len {
                    Some(l) if *l > data.len() as u64 => {
                        write!(f, "…(+{} more bytes)", l - data.len() as u64)
                    }
                    Some(_) => Ok(()),
                    None => f.write_char('…'),
                }
            }
            WasiValue::List { items, more } => {
                f.write_char('[')?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                if *more {
                    f.write_str(if items.is_empty() { "…" } else { ", …" })?;
                }
                f.write_char(']')
            }
            WasiValue::Unreadable(a) => write!(f, "<unreadable {a:#x}>"),
        }
    }
}

impl WasiArg {
    /// `fd: 1 <stdout>`; a buffer the call is about to fill shows its
    /// name alone (`random_get(buf, buf_len: 16)`).
    pub fn push_text(&self, out: &mut String) {
        out.push_str(self.name);
        if !matches!(self.value, WasiValue::Buffer(_)) {
            let _ = write!(out, ": {}", self.value);
        }
    }
}

/// Appends `value` as JSON: numbers as numbers, a descriptor as its
/// number (its stream is a separate field), named values and flags as
/// their text, bytes as a string (lossy UTF-8) or, when cut,
/// `{"text": …, "len": N, "truncated": true}`, lists as arrays or, when
/// cut, `{"items": […], "truncated": true}`.
pub fn push_json(out: &mut String, value: &WasiValue) {
    match value {
        WasiValue::Int(v) | WasiValue::Fd(v) => {
            let _ = write!(out, "{v}");
        }
        WasiValue::UInt(v) | WasiValue::Named(v, None) => {
            let _ = write!(out, "{v}");
        }
        WasiValue::Address(a) | WasiValue::Buffer(a) => {
            let _ = write!(out, "{a}");
        }
        WasiValue::Hex(_) | WasiValue::Named(_, Some(_)) | WasiValue::Flags(..) => {
            push_json_str(out, &alloc::format!("{value}"));
        }
        WasiValue::Bytes { data, len } => {
            let text = String::from_utf8_lossy(data);
            if value.is_cut() {
                out.push_str("{\"text\": ");
                push_json_str(out, &text);
                if let Some(l) = len {
                    let _ = write!(out, ", \"len\": {l}");
                }
                out.push_str(", \"truncated\": true}");
            } else {
                push_json_str(out, &text);
            }
        }
        WasiValue::List { items, more } => {
            if *more {
                out.push_str("{\"items\": ");
            }
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_json(out, v);
            }
            out.push(']');
            if *more {
                out.push_str(", \"truncated\": true}");
            }
        }
        WasiValue::Unreadable(a) => {
            let _ = write!(out, "{{\"unreadable\": {a}}}");
        }
    }
}

impl Decoded {
    /// `fd: 1 <stdout>, iovs: ["5\n"]`.
    pub fn push_args_text(&self, out: &mut String) {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            a.push_text(out);
        }
    }

    /// ` = 0 (nwritten: 2)` or ` = 8 EBADF`: the text after an exit's
    /// name.
    pub fn push_exit_text(&self, out: &mut String) {
        if let Some(e) = self.errno {
            let _ = write!(out, " = {e}");
            if e != 0 {
                if let Some(name) = errno_name(e) {
                    out.push(' ');
                    out.push_str(name);
                }
            }
        }
        if !self.args.is_empty() {
            out.push_str(" (");
            self.push_args_text(out);
            out.push(')');
        }
    }

    /// `{"name": "fd", "value": 1, "stream": "stdout"}, …`: the objects
    /// of a JSON array.
    pub fn push_args_json(&self, out: &mut String) {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str("{\"name\": ");
            push_json_str(out, a.name);
            out.push_str(", \"value\": ");
            push_json(out, &a.value);
            if let WasiValue::Fd(fd) = a.value {
                if let Some(s) = stream(fd) {
                    let _ = write!(out, ", \"stream\": \"{s}\"");
                }
            }
            out.push('}');
        }
    }

    /// `"fd": 1, "iovs": ["5\n"]`: members of a JSON object (a Chrome
    /// event's `args`), after an exit's `"errno": "EBADF"`; preceded by a
    /// comma unless `first`.
    pub fn push_members_json(&self, out: &mut String, mut first: bool) {
        if let Some(name) = self.errno.and_then(errno_name) {
            if !first {
                out.push_str(", ");
            }
            let _ = write!(out, "\"errno\": \"{name}\"");
            first = false;
        }
        for a in &self.args {
            if !first {
                out.push_str(", ");
            }
            first = false;
            push_json_str(out, a.name);
            out.push_str(": ");
            push_json(out, &a.value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{RunEnd, Trace};
    use crate::format::{ChromeFormatter, Formatter, JsonFormatter, TextFormatter, TextOptions};
    use crate::record::write_record;
    use crate::ring::{OverflowPolicy, Ring};
    use crate::table::{FunctionTable, Import, TraceOptions};
    use crate::{capture, RecordLayout};
    use alloc::vec;

    /// Guest memory as a byte vector.
    struct Mem(Vec<u8>);

    impl Memory for &Mem {
        fn read(&mut self, addr: u32, len: u32) -> Option<&[u8]> {
            let end = (addr as usize).checked_add(len as usize)?;
            self.0.get(addr as usize..end)
        }
    }

    impl Mem {
        fn put(&mut self, at: u32, bytes: &[u8]) {
            self.0[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
        }
        fn words(&mut self, at: u32, words: &[u32]) {
            for (i, w) in words.iter().enumerate() {
                self.put(at + 4 * i as u32, &w.to_le_bytes());
            }
        }
    }

    fn wasi_function(field: &str, params: &[ValType], results: usize) -> FunctionInfo {
        let name = alloc::format!("{MODULE}::{field}");
        FunctionInfo {
            wasm_index: 0,
            raw_name: name.clone(),
            name,
            params: params.to_vec(),
            results: vec![ValType::I32; results],
            param_names: param_names(MODULE, field, params.len()),
            location: None,
            source: None,
            import: Some(Import {
                module: MODULE.into(),
                field: field.into(),
            }),
        }
    }

    const I: ValType = ValType::I32;
    const L: ValType = ValType::I64;

    fn table(max_string: u32) -> FunctionTable {
        FunctionTable {
            options: TraceOptions {
                timestamps: false,
                ..TraceOptions::default()
            },
            program: "p".into(),
            functions: vec![
                wasi_function("fd_write", &[I; 4], 1),
                wasi_function("clock_time_get", &[I, L, I], 1),
                wasi_function("path_open", &[I, I, I, I, I, L, L, I, I], 1),
                wasi_function("args_get", &[I; 2], 1),
                wasi_function("random_get", &[I; 2], 1),
                wasi_function("fd_read", &[I; 4], 1),
                wasi_function("proc_exit", &[I], 0),
            ],
            types: Vec::new(),
            limits: Limits {
                max_string,
                max_elements: 8,
            },
        }
    }

    /// Records what a host would for one call of function `id`: the
    /// entry read from `mem` as it is, `change` applied (the call), the
    /// exit read from the changed memory, both through the hosts' own
    /// [`capture::snapshot_of_hook`].
    fn call(
        t: &FunctionTable,
        out: &mut Vec<u8>,
        mem: &mut Mem,
        id: u32,
        args: &[Value],
        result: Option<i32>,
        change: impl FnOnce(&mut Mem),
    ) {
        let layout = RecordLayout::new(t);
        let snap = |kind, values: &[Value], extra: &[Value], mem: &Mem| {
            layout
                .snapshot_of(crate::record::header(id, kind))
                .then(|| capture::snapshot_of_hook(t, id, kind, values, extra, mem))
        };
        let s = snap(RecordKind::Enter, args, &[], mem);
        write_record(out, id, RecordKind::Enter, None, None, args, s.as_deref());
        change(mem);
        if let Some(r) = result {
            let results = [Value::I32(r)];
            let s = snap(RecordKind::Exit, &results, args, mem);
            write_record(
                out,
                id,
                RecordKind::Exit,
                None,
                None,
                &results,
                s.as_deref(),
            );
        }
    }

    fn trace(t: FunctionTable, bytes: &[u8]) -> Trace {
        let mut ring = Ring::new(RecordLayout::new(&t), 1 << 20, OverflowPolicy::KeepNewest);
        ring.push(bytes).unwrap();
        Trace::new(t, ring.finish().unwrap(), RunEnd::Exited(0), 0, None)
    }

    fn render(f: &mut dyn Formatter, t: &Trace) -> String {
        let mut out = String::new();
        f.begin(t, &mut out);
        for e in t.events() {
            f.event(t, &e.unwrap(), &mut out);
        }
        f.end(t, &t.stats(), &mut out);
        out
    }

    /// Every decoded call of a small run, from live memory through the
    /// hosts' capture, records, the ring and the decoder, as each of the
    /// three formats shows it.
    fn sample_run(max_string: u32) -> Trace {
        let t = table(max_string);
        let mut m = Mem(vec![0; 4096]);
        let mut out = Vec::new();
        let i = |v: i32| Value::I32(v);
        // fd_write(1, [(200, 2), (300, 3)]): "5\n" and "abc"; nwritten at 400.
        m.words(100, &[200, 2, 300, 3]);
        m.put(200, b"5\n");
        m.put(300, b"a\xffc");
        call(
            &t,
            &mut out,
            &mut m,
            0,
            &[i(1), i(100), i(2), i(400)],
            Some(0),
            |m| m.words(400, &[5]),
        );
        // A failing write reads nothing back.
        call(
            &t,
            &mut out,
            &mut m,
            0,
            &[i(9), i(100), i(1), i(400)],
            Some(8),
            |m| m.words(400, &[77]),
        );
        // clock_time_get(monotonic, 1000) writes 123456789 at 500.
        call(
            &t,
            &mut out,
            &mut m,
            1,
            &[i(1), Value::I64(1000), i(500)],
            Some(0),
            |m| m.put(500, &123_456_789u64.to_le_bytes()),
        );
        // path_open(3, SYMLINK_FOLLOW, "data/in.txt", CREAT|TRUNC, ...).
        m.put(600, b"data/in.txt");
        let open = [
            i(3),
            i(1),
            i(600),
            i(11),
            i(9),
            Value::I64(0x42),
            Value::I64(0),
            i(0),
            i(700),
        ];
        call(&t, &mut out, &mut m, 2, &open, Some(0), |m| {
            m.words(700, &[4])
        });
        // args_get(argv 800, argv_buf 900) writes "prog", "-v".
        call(&t, &mut out, &mut m, 3, &[i(800), i(900)], Some(0), |m| {
            m.words(800, &[900, 905]);
            m.put(900, b"prog\0-v\0");
        });
        // random_get(1000, 4).
        call(&t, &mut out, &mut m, 4, &[i(1000), i(4)], Some(0), |m| {
            m.put(1000, &[1, 2, 3, 4])
        });
        // fd_read(0, [(1100, 8)], nread 1200) reads "hi".
        m.words(1050, &[1100, 8]);
        call(
            &t,
            &mut out,
            &mut m,
            5,
            &[i(0), i(1050), i(1), i(1200)],
            Some(0),
            |m| {
                m.put(1100, b"hi");
                m.words(1200, &[2]);
            },
        );
        call(&t, &mut out, &mut m, 6, &[i(0)], None, |_| {});
        trace(t, &out)
    }

    /// The text format reads like strace: descriptors with their stream,
    /// bytes at entry, values written back at exit in parentheses, errnos
    /// by name, flags and clocks by name, buffers the call fills by name.
    #[test]
    fn text_reads_like_strace() {
        let text = render(
            &mut TextFormatter::new(TextOptions {
                indent: false,
                timestamps: false,
            }),
            &sample_run(64),
        );
        let w = "wasi_snapshot_preview1::";
        let expected = [
            alloc::format!(r#"-> {w}fd_write(fd: 1 <stdout>, iovs: ["5\n", "a\xffc"])"#),
            alloc::format!("<- {w}fd_write() = 0 (nwritten: 5)"),
            alloc::format!(r#"-> {w}fd_write(fd: 9, iovs: ["5\n"])"#),
            alloc::format!("<- {w}fd_write() = 8 EBADF"),
            alloc::format!("-> {w}clock_time_get(id: monotonic, precision: 1000)"),
            alloc::format!("<- {w}clock_time_get() = 0 (time: 123456789)"),
            alloc::format!(
                r#"-> {w}path_open(fd: 3, dirflags: SYMLINK_FOLLOW, path: "data/in.txt", oflags: CREAT|TRUNC, fs_rights_base: 0x42, fs_rights_inheriting: 0x0, fdflags: 0)"#
            ),
            alloc::format!("<- {w}path_open() = 0 (opened_fd: 4)"),
            alloc::format!("-> {w}args_get()"),
            alloc::format!(r#"<- {w}args_get() = 0 (argv: ["prog", "-v"])"#),
            alloc::format!("-> {w}random_get(buf, buf_len: 4)"),
            alloc::format!(r#"<- {w}random_get() = 0 (buf: "\u{{1}}\u{{2}}\u{{3}}\u{{4}}")"#),
            alloc::format!("-> {w}fd_read(fd: 0 <stdin>, iovs)"),
            alloc::format!(r#"<- {w}fd_read() = 0 (iovs: ["hi"], nread: 2)"#),
            alloc::format!("-> {w}proc_exit(code: 0)"),
            alloc::format!("<- {w}proc_exit() [exited]"),
        ];
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[..expected.len()], expected);
    }

    /// Bytes past `--max-string` are cut and marked, in text and JSON,
    /// across the iovecs of one call.
    #[test]
    fn buffers_are_cut_at_the_limit_and_say_so() {
        let t = sample_run(3);
        let text = render(&mut TextFormatter::new(TextOptions::default()), &t);
        assert!(
            text.contains(r#"iovs: ["5\n", "a"…(+2 more bytes)])"#),
            "{text}"
        );
        assert!(text.contains(r#"path: "dat"…(+8 more bytes)"#), "{text}");
        let json: serde_json::Value =
            serde_json::from_str(&render(&mut JsonFormatter::default(), &t)).unwrap();
        assert_eq!(
            json["events"][0]["args"][1]["value"],
            serde_json::json!(["5\n", {"text": "a", "len": 3, "truncated": true}])
        );
    }

    /// JSON carries the decoded arguments, the stream of a descriptor, the
    /// errno by name and what the call wrote back; Chrome's `args` the
    /// same, as members.
    #[test]
    fn json_and_chrome_carry_the_decoded_values() {
        let t = sample_run(64);
        let json: serde_json::Value =
            serde_json::from_str(&render(&mut JsonFormatter::default(), &t)).unwrap();
        let ev = &json["events"];
        assert_eq!(ev[0]["type"], "import_enter");
        assert_eq!(
            ev[0]["args"],
            serde_json::json!([
                {"name": "fd", "value": 1, "stream": "stdout"},
                {"name": "iovs", "value": ["5\n", "a\u{fffd}c"]},
            ])
        );
        assert_eq!(
            ev[1]["returns"],
            serde_json::json!([{"type_info": {"name": "i32"}, "value": 0, "errno": "SUCCESS"}])
        );
        assert_eq!(
            ev[1]["outputs"],
            serde_json::json!([{"name": "nwritten", "value": 5}])
        );
        assert_eq!(ev[3]["returns"][0]["errno"], "EBADF");
        assert_eq!(ev[3]["outputs"], serde_json::json!([]));
        assert_eq!(
            ev[4]["args"][0],
            serde_json::json!({"name": "id", "value": "monotonic"})
        );
        assert_eq!(ev[5]["outputs"][0]["value"], 123_456_789);
        assert_eq!(
            ev[9]["outputs"][0]["value"],
            serde_json::json!(["prog", "-v"])
        );
        let chrome: serde_json::Value =
            serde_json::from_str(&render(&mut ChromeFormatter::new(), &t)).unwrap();
        let events = chrome["traceEvents"].as_array().unwrap();
        let writes: Vec<&serde_json::Value> = events
            .iter()
            .filter(|e| e["name"] == "wasi_snapshot_preview1::fd_write")
            .collect();
        assert_eq!(writes[0]["args"]["fd"], 1);
        assert_eq!(writes[0]["args"]["iovs"][0], "5\n");
        assert_eq!(writes[1]["args"]["result"], 0);
        assert_eq!(writes[1]["args"]["nwritten"], 5);
        assert_eq!(writes[3]["args"]["errno"], "EBADF");
    }

    /// Known functions with the table's arity get names; a mismatched
    /// arity or an unknown module does not; only a function whose names
    /// and signature match is decoded.
    #[test]
    fn decodes_only_matching_signatures() {
        assert_eq!(
            param_names(MODULE, "fd_write", 4),
            ["fd", "iovs", "iovs_len", "nwritten"]
        );
        assert!(param_names(MODULE, "fd_write", 3).is_empty());
        assert!(param_names("env", "fd_write", 4).is_empty());
        assert!(param_names(MODULE, "no_such_call", 0).is_empty());
        let w = wasi_function("fd_write", &[I; 4], 1);
        assert!(known(&w).is_some());
        assert!(entry_reads_memory(&w) && exit_reads_memory(&w));
        let mut floats = w.clone();
        floats.params[0] = ValType::F32;
        assert!(known(&floats).is_none());
        let mut unnamed = w.clone();
        unnamed.param_names.clear();
        assert!(known(&unnamed).is_none() && !entry_reads_memory(&unnamed));
        let exit = wasi_function("proc_exit", &[I], 0);
        assert!(known(&exit).is_some());
        assert!(!entry_reads_memory(&exit) && !exit_reads_memory(&exit));
    }

    /// Errno values name themselves as in the WASI enumeration, from
    /// `SUCCESS` (0) through `EBADF` (8) to `ENOTCAPABLE` (76).
    #[test]
    fn errno_names() {
        assert_eq!(errno_name(0), Some("SUCCESS"));
        assert_eq!(errno_name(8), Some("EBADF"));
        assert_eq!(errno_name(28), Some("EINVAL"));
        assert_eq!(errno_name(44), Some("ENOENT"));
        assert_eq!(errno_name(76), Some("ENOTCAPABLE"));
        assert_eq!(errno_name(77), None);
        assert_eq!(errno_name(-1), None);
    }

    /// Pointers the guest got wrong show as unreadable, never a panic;
    /// an iovec count past `IOV_MAX` is cut there.
    #[test]
    fn bad_pointers_are_unreadable() {
        let call = lookup(MODULE, "fd_write").unwrap();
        let m = Mem(vec![0; 64]);
        let args = [Value::I32(1), Value::I32(60), Value::I32(2), Value::I32(-4)];
        let entry = walk(call, Stage::Entry, &args, &mut &m, Limits::default());
        assert_eq!(entry[1].value, WasiValue::Unreadable(60));
        let exit = walk(call, Stage::Exit, &args, &mut &m, Limits::default());
        assert_eq!(exit[0].value, WasiValue::Unreadable(-4i32 as u32));
        let huge = [Value::I32(1), Value::I32(0), Value::I32(-1), Value::I32(0)];
        let big = Mem(vec![0; 8 * MAX_IOVS as usize]);
        let v = walk(call, Stage::Entry, &huge, &mut &big, Limits::default());
        assert!(v[1].value.is_cut());
    }
}
