//! Start-up checks that turn environment problems into advice instead of a panic deep inside
//! the runtime.

use anyhow::bail;

/// Checks that this process may create io_uring instances (glommio needs them on every core).
pub(crate) fn check_io_uring() -> anyhow::Result<()> {
    match io_uring::IoUring::new(4) {
        Ok(_) => Ok(()),
        Err(err) => bail!("{}", explain_io_uring_error(&err)),
    }
}

/// Says what to change for an io_uring set-up error.
pub(crate) fn explain_io_uring_error(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(libc::EPERM) | Some(libc::ENOSYS) | Some(libc::EACCES) => format!(
            "io_uring is unavailable ({err}). ePHPm needs Linux io_uring (kernel 5.19 or newer). \
             Check that /proc/sys/kernel/io_uring_disabled is 0. In a container, Docker's and \
             containerd's default seccomp profiles block io_uring_setup, io_uring_enter and \
             io_uring_register: run with a seccomp profile that allows them."
        ),
        Some(libc::ENOMEM) => format!(
            "not enough locked memory for io_uring ({err}). Raise the memlock limit \
             (`ulimit -l`, or LimitMEMLOCK= in a systemd unit), run with CAP_IPC_LOCK, or lower \
             server.io_memory in ephpm.toml."
        ),
        _ => format!("io_uring set-up failed: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explains_blocked_io_uring() {
        let text = explain_io_uring_error(&std::io::Error::from_raw_os_error(libc::EPERM));
        assert!(text.contains("seccomp"), "{text}");
        assert!(text.contains("io_uring_disabled"), "{text}");
        let text = explain_io_uring_error(&std::io::Error::from_raw_os_error(libc::ENOMEM));
        assert!(text.contains("ulimit -l"), "{text}");
    }
}
