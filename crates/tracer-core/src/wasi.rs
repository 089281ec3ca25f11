//! What ruchy-trace knows of WASI preview 1 (`wasi_snapshot_preview1`):
//! the one table of decoded functions, so import calls read like strace.
//!
//! A known function's parameters get their names from [`FUNCTIONS`]; a
//! descriptor argument 0, 1 or 2 is shown with its stream's name
//! (`1 <stdout>`), and an errno result other than success with its name
//! (`8 EBADF`). An unknown import, or one whose wasm signature does not
//! match the table, keeps plain wasm-typed values.

use crate::table::FunctionInfo;
use crate::value::Value;
use alloc::string::String;
use alloc::vec::Vec;

/// The import module of WASI preview 1.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// Known functions: field name, parameter names in wasm order, and whether
/// the single i32 result is an errno.
pub const FUNCTIONS: &[(&str, &[&str], bool)] = &[
    ("args_get", &["argv", "argv_buf"], true),
    ("args_sizes_get", &["argc", "argv_buf_size"], true),
    ("environ_get", &["environ", "environ_buf"], true),
    ("environ_sizes_get", &["count", "buf_size"], true),
    ("clock_res_get", &["id", "resolution"], true),
    ("clock_time_get", &["id", "precision", "time"], true),
    ("fd_close", &["fd"], true),
    ("fd_fdstat_get", &["fd", "stat"], true),
    ("fd_prestat_get", &["fd", "buf"], true),
    ("fd_prestat_dir_name", &["fd", "path", "path_len"], true),
    ("fd_read", &["fd", "iovs", "iovs_len", "nread"], true),
    ("fd_seek", &["fd", "offset", "whence", "newoffset"], true),
    ("fd_write", &["fd", "iovs", "iovs_len", "nwritten"], true),
    (
        "path_open",
        &[
            "fd",
            "dirflags",
            "path",
            "path_len",
            "oflags",
            "fs_rights_base",
            "fs_rights_inheriting",
            "fdflags",
            "opened_fd",
        ],
        true,
    ),
    (
        "poll_oneoff",
        &["in", "out", "nsubscriptions", "nevents"],
        true,
    ),
    ("proc_exit", &["code"], false),
    ("random_get", &["buf", "buf_len"], true),
    ("sched_yield", &[], true),
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

fn known(module: &str, field: &str) -> Option<(&'static [&'static str], bool)> {
    if module != MODULE {
        return None;
    }
    FUNCTIONS
        .iter()
        .find(|(name, _, _)| *name == field)
        .map(|&(_, params, errno)| (params, errno))
}

/// Parameter names of a known WASI import with `params` parameters; empty
/// when the function is unknown or its arity differs from the table's.
pub fn param_names(module: &str, field: &str, params: usize) -> Vec<String> {
    match known(module, field) {
        Some((names, _)) if names.len() == params => names.iter().map(|&n| n.into()).collect(),
        _ => Vec::new(),
    }
}

/// The name of WASI errno `value`, when it is one.
pub fn errno_name(value: i32) -> Option<&'static str> {
    usize::try_from(value)
        .ok()
        .and_then(|i| ERRNO.get(i).copied())
}

/// Whether `f` is a traced WASI import (its parameter names came from the
/// table).
fn decoded(f: &FunctionInfo) -> Option<bool> {
    let import = f.import.as_ref()?;
    let (names, errno) = known(&import.module, &import.field)?;
    (names.len() == f.params.len()).then_some(errno)
}

/// Text to show after argument `index` of a call of `f`: ` <stdout>` for a
/// standard stream's descriptor.
pub fn arg_note(f: &FunctionInfo, index: usize, value: &Value) -> Option<&'static str> {
    decoded(f)?;
    if f.param_names.get(index).map(String::as_str) != Some("fd") {
        return None;
    }
    match value {
        Value::I32(0) => Some(" <stdin>"),
        Value::I32(1) => Some(" <stdout>"),
        Value::I32(2) => Some(" <stderr>"),
        _ => None,
    }
}

/// Text to show after the result of a call of `f`: ` EBADF` for a failing
/// errno (success shows as the bare `0`, as strace does).
pub fn result_note(f: &FunctionInfo, value: &Value) -> Option<&'static str> {
    if decoded(f)? && f.results.len() == 1 {
        if let Value::I32(e) = value {
            if *e != 0 {
                return errno_name(*e);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Import;
    use crate::value::ValType;

    fn import(field: &str, params: usize, results: usize) -> FunctionInfo {
        FunctionInfo {
            wasm_index: 0,
            raw_name: String::new(),
            name: String::new(),
            params: alloc::vec![ValType::I32; params],
            results: alloc::vec![ValType::I32; results],
            param_names: param_names(MODULE, field, params),
            location: None,
            source: None,
            import: Some(Import {
                module: MODULE.into(),
                field: field.into(),
            }),
        }
    }

    /// Known functions with the table's arity get names; a mismatched
    /// arity or an unknown module does not.
    #[test]
    fn names_only_matching_signatures() {
        assert_eq!(
            param_names(MODULE, "fd_write", 4),
            ["fd", "iovs", "iovs_len", "nwritten"]
        );
        assert!(param_names(MODULE, "fd_write", 3).is_empty());
        assert!(param_names("env", "fd_write", 4).is_empty());
        assert!(param_names(MODULE, "no_such_call", 0).is_empty());
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

    /// Descriptors 0..=2 name their stream, only in an `fd` parameter;
    /// failing errnos name themselves, success and `proc_exit` do not.
    #[test]
    fn notes() {
        let w = import("fd_write", 4, 1);
        assert_eq!(arg_note(&w, 0, &Value::I32(1)), Some(" <stdout>"));
        assert_eq!(arg_note(&w, 0, &Value::I32(2)), Some(" <stderr>"));
        assert_eq!(arg_note(&w, 0, &Value::I32(5)), None);
        assert_eq!(arg_note(&w, 2, &Value::I32(1)), None);
        assert_eq!(result_note(&w, &Value::I32(8)), Some("EBADF"));
        assert_eq!(result_note(&w, &Value::I32(0)), None);
        let exit = import("proc_exit", 1, 0);
        assert_eq!(arg_note(&exit, 0, &Value::I32(1)), None);
        let mut own = import("fd_write", 4, 1);
        own.import = None;
        assert_eq!(result_note(&own, &Value::I32(8)), None);
    }
}
