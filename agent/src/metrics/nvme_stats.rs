//! The statistics log page of Amazon EBS volumes and EC2 instance-store volumes, decoded from
//! its bytes. Nitro instances serve it through the NVMe Get Log Page admin command, log
//! identifier 0xD0, 4096 bytes; the CloudWatch agent's NVMe metrics are its counters.
//!
//! Layout, little-endian (as the CloudWatch agent's `awsnvmereceiver` reads it):
//!
//! | bytes | EBS | instance store |
//! |---|---|---|
//! | 0..8 | magic, u64 `0x3C23B510` | magic, u32 `0xEC2C0D7E`; 4 reserved bytes |
//! | 8..96 | eleven u64: read ops, write ops, read bytes, write bytes, read time, write time (µs), volume IOPS exceeded, volume throughput exceeded, instance IOPS exceeded, instance throughput exceeded (µs), queue length | the same eleven; the two volume ones do not apply |
//! | 96.. | 416 reserved bytes, then read and write latency histograms | histogram counts, I/O size ranges, bin bounds, five read/write histogram pairs |
//!
//! Only the counters are decoded: no CloudWatch agent metric uses the histograms.

/// The log page identifier of the statistics (vendor specific).
pub const LOG_PAGE_ID: u8 = 0xD0;
/// How many bytes the device writes: the length to ask for.
pub const LOG_PAGE_BYTES: usize = 4096;

const EBS_MAGIC: u64 = 0x3C23_B510;
const INSTANCE_STORE_MAGIC: u32 = 0xEC2C_0D7E;
/// The counters end here; what follows (histograms) is not decoded.
const COUNTERS_END: usize = 96;

/// Which kind of volume a log page (or a device) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VolumeKind {
    Ebs,
    InstanceStore,
}

/// The counters of one log page: totals since the volume was attached (EBS) or the instance
/// started (instance store), except `queue_length`, the operations waiting now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NvmeStats {
    pub kind: VolumeKind,
    pub read_ops: u64,
    pub write_ops: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub read_time_us: u64,
    pub write_time_us: u64,
    /// Time demand exceeded the volume's provisioned IOPS (EBS only).
    pub volume_iops_exceeded_us: u64,
    /// Time demand exceeded the volume's provisioned throughput (EBS only).
    pub volume_throughput_exceeded_us: u64,
    /// Time demand exceeded the instance's IOPS limit (for instance store: the device's).
    pub instance_iops_exceeded_us: u64,
    /// Time demand exceeded the instance's throughput limit (for instance store: the device's).
    pub instance_throughput_exceeded_us: u64,
    pub queue_length: u64,
}

/// Why bytes are not a statistics log page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogPageError {
    /// Fewer bytes than the counters take.
    Short { len: usize },
    /// The first bytes are neither magic number.
    UnknownMagic { magic: u64 },
}

impl std::fmt::Display for LogPageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogPageError::Short { len } => write!(
                f,
                "the statistics log page is {len} bytes; its counters take {COUNTERS_END}"
            ),
            LogPageError::UnknownMagic { magic } => write!(
                f,
                "the log page starts with {magic:#018x}, neither the EBS magic number \
                 ({EBS_MAGIC:#x}) nor the instance-store one ({INSTANCE_STORE_MAGIC:#x})"
            ),
        }
    }
}

impl std::error::Error for LogPageError {}

/// The counters of a statistics log page (`page` may be longer than the counters: the device
/// writes [`LOG_PAGE_BYTES`]).
pub fn decode(page: &[u8]) -> Result<NvmeStats, LogPageError> {
    let short = LogPageError::Short { len: page.len() };
    let u64_at = |at: usize| -> Option<u64> {
        let bytes: [u8; 8] = page.get(at..at + 8)?.try_into().ok()?;
        Some(u64::from_le_bytes(bytes))
    };
    let magic = u64_at(0).ok_or_else(|| short.clone())?;
    let kind = if magic == EBS_MAGIC {
        VolumeKind::Ebs
    } else if magic as u32 == INSTANCE_STORE_MAGIC {
        // A u32 magic: the next four bytes are reserved, whatever they hold.
        VolumeKind::InstanceStore
    } else {
        return Err(LogPageError::UnknownMagic { magic });
    };
    if page.len() < COUNTERS_END {
        return Err(short);
    }
    // The eleven counters, from byte 8 on.
    let counter = |i: usize| u64_at(8 + 8 * i).ok_or_else(|| short.clone());
    Ok(NvmeStats {
        kind,
        read_ops: counter(0)?,
        write_ops: counter(1)?,
        read_bytes: counter(2)?,
        write_bytes: counter(3)?,
        read_time_us: counter(4)?,
        write_time_us: counter(5)?,
        volume_iops_exceeded_us: counter(6)?,
        volume_throughput_exceeded_us: counter(7)?,
        instance_iops_exceeded_us: counter(8)?,
        instance_throughput_exceeded_us: counter(9)?,
        queue_length: counter(10)?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::{decode, LogPageError, NvmeStats, VolumeKind, LOG_PAGE_BYTES};

    /// A full page as the device writes it: `magic` in the first bytes, the eleven counters
    /// from byte 8, and non-zero filler where the histograms are (which must not be read).
    fn page(magic: &[u8], counters: [u64; 11]) -> Vec<u8> {
        let mut page = vec![0xA5; LOG_PAGE_BYTES];
        page[..8].fill(0);
        page[..magic.len()].copy_from_slice(magic);
        for (i, c) in counters.iter().enumerate() {
            page[8 + 8 * i..16 + 8 * i].copy_from_slice(&c.to_le_bytes());
        }
        page
    }

    const COUNTERS: [u64; 11] = [1, 2, 3 << 40, 4, 5, 6, 7, 8, 9, 10, u64::MAX];

    #[test]
    fn an_ebs_page_decodes_every_counter_in_order() {
        let stats = decode(&page(&0x3C23_B510u64.to_le_bytes(), COUNTERS)).unwrap();
        assert_eq!(
            stats,
            NvmeStats {
                kind: VolumeKind::Ebs,
                read_ops: 1,
                write_ops: 2,
                read_bytes: 3 << 40,
                write_bytes: 4,
                read_time_us: 5,
                write_time_us: 6,
                volume_iops_exceeded_us: 7,
                volume_throughput_exceeded_us: 8,
                instance_iops_exceeded_us: 9,
                instance_throughput_exceeded_us: 10,
                queue_length: u64::MAX,
            }
        );
    }

    #[test]
    fn an_instance_store_page_has_a_four_byte_magic_and_reserved_bytes_after_it() {
        let mut magic = 0xEC2C_0D7Eu32.to_le_bytes().to_vec();
        magic.extend_from_slice(&[0xDE, 0xAD, 0xBE, 0xEF]);
        let stats = decode(&page(&magic, COUNTERS)).unwrap();
        assert_eq!(stats.kind, VolumeKind::InstanceStore);
        assert_eq!((stats.read_ops, stats.instance_throughput_exceeded_us), (1, 10));
    }

    #[test]
    fn the_counters_alone_are_enough() {
        let full = page(&0x3C23_B510u64.to_le_bytes(), COUNTERS);
        assert_eq!(decode(&full[..96]).unwrap(), decode(&full).unwrap());
    }

    #[test]
    fn a_short_page_says_how_short() {
        let full = page(&0x3C23_B510u64.to_le_bytes(), COUNTERS);
        for len in [0, 7, 8, 95] {
            assert_eq!(decode(&full[..len]), Err(LogPageError::Short { len }), "{len}");
        }
        assert_eq!(
            LogPageError::Short { len: 95 }.to_string(),
            "the statistics log page is 95 bytes; its counters take 96"
        );
    }

    #[test]
    fn a_page_with_another_magic_number_is_refused_with_it() {
        // The EBS magic is eight bytes: junk after its low four is not EBS.
        let mut magic = 0x3C23_B510u32.to_le_bytes().to_vec();
        magic.extend_from_slice(&[1, 0, 0, 0]);
        let err = decode(&page(&magic, COUNTERS)).unwrap_err();
        assert_eq!(err, LogPageError::UnknownMagic { magic: 0x1_3C23_B510 });
        assert_eq!(
            err.to_string(),
            "the log page starts with 0x000000013c23b510, neither the EBS magic number (0x3c23b510) \
             nor the instance-store one (0xec2c0d7e)"
        );
        assert_eq!(
            decode(&[0u8; LOG_PAGE_BYTES]),
            Err(LogPageError::UnknownMagic { magic: 0 }),
            "a page the device did not fill"
        );
    }
}
