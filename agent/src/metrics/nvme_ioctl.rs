//! The NVMe Get Log Page admin command, sent through the Linux NVMe driver's passthrough ioctl
//! (`NVME_IOCTL_ADMIN_CMD`, `<linux/nvme_ioctl.h>`). The kernel runs admin commands only for a
//! process with CAP_SYS_ADMIN (root has it), as the CloudWatch agent needs it too.
//!
//! This is the crate's one `unsafe`: the kernel writes the log page through a raw address in
//! the command, and no safe wrapper of this ioctl exists (rustix and libc both leave the
//! command's meaning to the caller).
#![allow(unsafe_code)]

use std::path::Path;

/// `struct nvme_passthru_cmd` (a.k.a. `nvme_admin_cmd`) of `<linux/nvme_ioctl.h>`: 72 bytes.
#[repr(C)]
#[derive(Debug, Default)]
#[allow(dead_code)] // The kernel reads the fields we leave at 0.
struct PassthruCmd {
    opcode: u8,
    flags: u8,
    rsvd1: u16,
    nsid: u32,
    cdw2: u32,
    cdw3: u32,
    metadata: u64,
    addr: u64,
    metadata_len: u32,
    data_len: u32,
    cdw10: u32,
    cdw11: u32,
    cdw12: u32,
    cdw13: u32,
    cdw14: u32,
    cdw15: u32,
    timeout_ms: u32,
    result: u32,
}

const _: () = assert!(std::mem::size_of::<PassthruCmd>() == 72);

/// `_IOWR('N', 0x41, struct nvme_admin_cmd)`.
const NVME_IOCTL_ADMIN_CMD: rustix::ioctl::Opcode =
    rustix::ioctl::opcode::read_write::<PassthruCmd>(b'N', 0x41);

const _: () = assert!(NVME_IOCTL_ADMIN_CMD as u64 == 0xC048_4E41);

/// The Get Log Page admin command's opcode.
const GET_LOG_PAGE: u8 = 0x02;
/// All namespaces: the statistics are the controller's.
const ALL_NAMESPACES: u32 = 0xFFFF_FFFF;

/// The ioctl's argument: the command, whose `addr` the kernel writes `data_len` bytes to.
struct AdminCommand<'a> {
    command: &'a mut PassthruCmd,
}

// SAFETY: `NVME_IOCTL_ADMIN_CMD` takes a pointer to a `struct nvme_passthru_cmd`, which
// `PassthruCmd` is (same fields, `repr(C)`, 72 bytes, checked above); the kernel reads it and
// writes `result` back, so the pointer is mutable. Its return value is the NVMe status (0 for
// success), which `output_from_ptr` passes on without touching the pointer.
unsafe impl rustix::ioctl::Ioctl for AdminCommand<'_> {
    type Output = rustix::ioctl::IoctlOutput;
    const IS_MUTATING: bool = true;

    fn opcode(&self) -> rustix::ioctl::Opcode {
        NVME_IOCTL_ADMIN_CMD
    }

    fn as_ptr(&mut self) -> *mut core::ffi::c_void {
        std::ptr::from_mut(self.command).cast()
    }

    unsafe fn output_from_ptr(
        status: rustix::ioctl::IoctlOutput,
        _: *mut core::ffi::c_void,
    ) -> rustix::io::Result<rustix::ioctl::IoctlOutput> {
        Ok(status)
    }
}

/// How long the device may take to answer one log page request.
const COMMAND_TIMEOUT_MS: u32 = 1000;

/// Log page `log_id` of the NVMe device at `device` (a controller, `/dev/nvme0`, or one of its
/// namespaces, `/dev/nvme0n1`), `len` bytes (a multiple of 4, at most 256 KiB).
pub fn get_log_page(device: &Path, log_id: u8, len: usize) -> std::io::Result<Vec<u8>> {
    let dwords = u32::try_from(len / 4)
        .ok()
        .filter(|d| (1..=0x1_0000).contains(d) && len.is_multiple_of(4))
        .ok_or_else(|| std::io::Error::other(format!("cannot ask for a log page of {len} bytes")))?;
    let file = std::fs::File::open(device)?;
    let mut page = vec![0u8; len];
    let mut command = PassthruCmd {
        opcode: GET_LOG_PAGE,
        nsid: ALL_NAMESPACES,
        // The kernel writes the page here; `page` outlives the call and holds `data_len` bytes.
        addr: page.as_mut_ptr().expose_provenance() as u64,
        data_len: dwords * 4,
        // Bits 0-7: the log page; 16-31: how many dwords, less one (NUMDL).
        cdw10: u32::from(log_id) | ((dwords - 1) << 16),
        // Not the kernel's admin timeout (60 s): an impaired volume must not hold up the
        // collection that would report it.
        timeout_ms: COMMAND_TIMEOUT_MS,
        ..PassthruCmd::default()
    };
    // SAFETY: `command` is a valid `nvme_passthru_cmd` (see `AdminCommand`) whose `addr` and
    // `data_len` describe `page`, a live, writable buffer of exactly `data_len` bytes that is
    // not touched until the call returns; no metadata buffer is given (`metadata_len` 0).
    let status = unsafe {
        rustix::ioctl::ioctl(
            &file,
            AdminCommand {
                command: &mut command,
            },
        )
    }?;
    if status != 0 {
        return Err(std::io::Error::other(format!(
            "the device refused Get Log Page {log_id:#04x} (NVMe status {status:#x})"
        )));
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::get_log_page;

    #[test]
    fn a_file_that_is_not_an_nvme_device_refuses_the_command() {
        // The kernel answers ENOTTY before it looks at the command: the call itself is safe to
        // make here, which no NVMe device is.
        for device in ["/dev/null", "/proc/self/stat"] {
            let err = get_log_page(std::path::Path::new(device), 0xD0, 4096).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(25), "{device}: {err}");
        }
        let missing = get_log_page(std::path::Path::new("/dev/nvme-missing"), 0xD0, 4096);
        assert_eq!(missing.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn a_length_the_command_cannot_carry_is_refused_before_any_call() {
        for len in [0, 6, 256 * 1024 + 4] {
            let err = get_log_page(std::path::Path::new("/dev/null"), 0xD0, len).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("cannot ask for a log page of {len} bytes")
            );
        }
    }
}
