//! SPDY/3 frames. A control frame: `1 | version(15) | type(16)`, `flags(8) | length(24)`,
//! payload; a data frame: `0 | stream id(31)`, `flags(8) | length(24)`, payload.
use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

pub const VERSION: u16 = 3;
pub const FLAG_FIN: u8 = 0x01;

pub const SYN_STREAM: u16 = 1;
pub const SYN_REPLY: u16 = 2;
pub const RST_STREAM: u16 = 3;
pub const SETTINGS: u16 = 4;
pub const PING: u16 = 6;
pub const GOAWAY: u16 = 7;
pub const HEADERS: u16 = 8;
pub const WINDOW_UPDATE: u16 = 9;

/// The largest frame payload accepted (the SPDY limit is 2^24 - 1).
pub const MAX_PAYLOAD: usize = (1 << 24) - 1;

/// A frame as read off the wire (header blocks still compressed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Control {
        kind: u16,
        flags: u8,
        payload: Bytes,
    },
    Data {
        stream: u32,
        flags: u8,
        payload: Bytes,
    },
}

/// Reads one frame; `Ok(None)` at a clean end of the connection.
pub async fn read<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<Frame>> {
    let mut head = [0u8; 8];
    match r.read_exact(&mut head[..1]).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    r.read_exact(&mut head[1..]).await?;
    let first = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let flags = head[4];
    let len = u32::from_be_bytes([0, head[5], head[6], head[7]]) as usize;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    let payload = Bytes::from(payload);
    if first & 0x8000_0000 != 0 {
        let version = ((first >> 16) & 0x7fff) as u16;
        if version != VERSION {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("SPDY version {version} is not supported"),
            ));
        }
        Ok(Some(Frame::Control {
            kind: (first & 0xffff) as u16,
            flags,
            payload,
        }))
    } else {
        Ok(Some(Frame::Data {
            stream: first & 0x7fff_ffff,
            flags,
            payload,
        }))
    }
}

/// Serialises a control frame.
pub fn control(kind: u16, flags: u8, payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(8 + payload.len());
    b.put_u32(0x8000_0000 | ((VERSION as u32) << 16) | kind as u32);
    b.put_u32(((flags as u32) << 24) | payload.len() as u32);
    b.put_slice(payload);
    b.freeze()
}

/// Serialises a data frame.
pub fn data(stream: u32, flags: u8, payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(8 + payload.len());
    b.put_u32(stream & 0x7fff_ffff);
    b.put_u32(((flags as u32) << 24) | payload.len() as u32);
    b.put_slice(payload);
    b.freeze()
}

/// The stream ID at the start of a control frame's payload.
pub fn stream_id(payload: &[u8]) -> Option<u32> {
    let mut p = payload;
    (p.len() >= 4).then(|| p.get_u32() & 0x7fff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip() {
        let mut wire = Vec::new();
        wire.extend_from_slice(&control(PING, 0, &7u32.to_be_bytes()));
        wire.extend_from_slice(&data(3, FLAG_FIN, b"hello"));
        let mut r = &wire[..];
        assert_eq!(
            read(&mut r).await.unwrap(),
            Some(Frame::Control {
                kind: PING,
                flags: 0,
                payload: Bytes::from_static(&[0, 0, 0, 7])
            })
        );
        assert_eq!(
            read(&mut r).await.unwrap(),
            Some(Frame::Data {
                stream: 3,
                flags: FLAG_FIN,
                payload: Bytes::from_static(b"hello")
            })
        );
        assert_eq!(read(&mut r).await.unwrap(), None);
    }
}
