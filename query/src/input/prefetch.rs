//! Reading (and decompressing) on a thread of its own, so that a stream — stdin, a gzip or zstd
//! file — is decoded on one core while the query runs on another.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver};

/// Bytes handed over at a time.
const BLOCK_BYTES: usize = 1 << 20;
/// Blocks in flight between the reading thread and the reader: memory stays bounded.
const BLOCKS_IN_FLIGHT: usize = 8;

/// A `Read` whose bytes come from `inner`, read ahead on another thread.
pub struct Prefetch {
    blocks: Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Prefetch {
    pub fn new(mut inner: Box<dyn Read + Send>) -> io::Result<Prefetch> {
        let (tx, rx) = sync_channel(BLOCKS_IN_FLIGHT);
        std::thread::Builder::new()
            .name("prefetch".into())
            .spawn(move || loop {
                let mut block = vec![0u8; BLOCK_BYTES];
                let mut filled = 0;
                // Fill the block (decoders often return small pieces).
                let result = loop {
                    match inner.read(&mut block[filled..]) {
                        Ok(0) => break Ok(()),
                        Ok(n) => {
                            filled += n;
                            if filled == block.len() {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                block.truncate(filled);
                let end = block.is_empty();
                let message = match result {
                    Ok(()) => Ok(block),
                    Err(e) => Err(e),
                };
                let failed = message.is_err();
                // The reader went away (the query finished early): stop reading.
                if tx.send(message).is_err() || end || failed {
                    return;
                }
            })?;
        Ok(Prefetch {
            blocks: rx,
            current: Vec::new(),
            pos: 0,
            done: false,
        })
    }
}

impl Read for Prefetch {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.blocks.recv() {
                Ok(Ok(block)) => {
                    if block.is_empty() {
                        self.done = true;
                    }
                    self.current = block;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::Prefetch;
    use std::io::Read;

    #[test]
    fn delivers_every_byte_in_order() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut reader = Prefetch::new(Box::new(std::io::Cursor::new(data.clone()))).unwrap();
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn passes_read_errors_on() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let mut reader = Prefetch::new(Box::new(Failing)).unwrap();
        let err = reader.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
    }
}
