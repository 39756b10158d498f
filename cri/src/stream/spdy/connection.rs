//! The server side of a SPDY connection, as k8s.io/streaming's: every stream the client
//! opens (SYN_STREAM) is accepted with an empty SYN_REPLY and handed over with its
//! headers; data flows per stream until a FIN; pings are answered; HEADERS, SETTINGS and
//! WINDOW_UPDATE are read (header blocks still go through the decompressor, whose state
//! spans the connection) and otherwise ignored. One task reads, one writes; closing sends
//! GOAWAY and shuts the connection down.
use std::collections::HashMap;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::frame::{self, Frame, FLAG_FIN};
use super::headers::{HeaderReader, HeaderWriter, Headers};

/// What the writer task sends.
enum Out {
    Data { stream: u32, fin: bool, data: Bytes },
    Reply { stream: u32 },
    Reset { stream: u32 },
    Pong { payload: Bytes },
    GoAway,
}

/// A stream the client opened.
pub struct SpdyStream {
    pub id: u32,
    pub headers: Headers,
    data: mpsc::Receiver<Bytes>,
    out: mpsc::UnboundedSender<Out>,
}

/// The sending half of a stream (cheap to clone).
#[derive(Clone)]
pub struct StreamWriter {
    id: u32,
    out: mpsc::UnboundedSender<Out>,
}

/// The receiving half of a stream.
pub struct StreamReader {
    data: mpsc::Receiver<Bytes>,
}

/// Largest data frame sent.
const CHUNK: usize = 32 * 1024;

impl SpdyStream {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn split(self) -> (StreamReader, StreamWriter) {
        (
            StreamReader { data: self.data },
            StreamWriter {
                id: self.id,
                out: self.out,
            },
        )
    }
}

impl StreamReader {
    /// The next data, `None` once the client closed its side (or reset the stream).
    pub async fn read(&mut self) -> Option<Bytes> {
        self.data.recv().await
    }
}

fn gone() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::BrokenPipe,
        "the SPDY connection is closed",
    )
}

impl StreamWriter {
    pub fn write(&self, data: &[u8]) -> std::io::Result<()> {
        for chunk in data.chunks(CHUNK) {
            self.out
                .send(Out::Data {
                    stream: self.id,
                    fin: false,
                    data: Bytes::copy_from_slice(chunk),
                })
                .map_err(|_| gone())?;
        }
        Ok(())
    }

    /// Closes our side of the stream (FIN).
    pub fn close(&self) {
        let _ = self.out.send(Out::Data {
            stream: self.id,
            fin: true,
            data: Bytes::new(),
        });
    }

    pub fn reset(&self) {
        let _ = self.out.send(Out::Reset { stream: self.id });
    }
}

/// Closes the whole connection.
#[derive(Clone)]
pub struct ConnectionHandle {
    out: mpsc::UnboundedSender<Out>,
}

impl ConnectionHandle {
    /// Sends GOAWAY and shuts the connection down once what was queued is written.
    pub fn close(&self) {
        let _ = self.out.send(Out::GoAway);
    }
}

/// Serves SPDY on an upgraded connection: answers the streams the client opens, as they
/// come.
pub fn accept<IO>(io: IO) -> (mpsc::Receiver<SpdyStream>, ConnectionHandle)
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (read_half, write_half) = tokio::io::split(io);
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let (incoming_tx, incoming_rx) = mpsc::channel(16);
    tokio::spawn(write_loop(write_half, out_rx));
    tokio::spawn(read_loop(read_half, out_tx.clone(), incoming_tx));
    (incoming_rx, ConnectionHandle { out: out_tx })
}

async fn write_loop<W: AsyncWrite + Unpin>(mut w: W, mut rx: mpsc::UnboundedReceiver<Out>) {
    let mut headers = HeaderWriter::default();
    let mut last_stream = 0u32;
    while let Some(item) = rx.recv().await {
        let bytes = match item {
            Out::Data { stream, fin, data } => {
                frame::data(stream, if fin { FLAG_FIN } else { 0 }, &data)
            }
            Out::Reply { stream } => {
                last_stream = last_stream.max(stream);
                let block = match headers.write(&[]) {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::debug!(error = %e, "SPDY reply headers");
                        break;
                    }
                };
                let mut payload = stream.to_be_bytes().to_vec();
                payload.extend_from_slice(&block);
                frame::control(frame::SYN_REPLY, 0, &payload)
            }
            Out::Reset { stream } => {
                let mut payload = stream.to_be_bytes().to_vec();
                payload.extend_from_slice(&5u32.to_be_bytes()); // CANCEL
                frame::control(frame::RST_STREAM, 0, &payload)
            }
            Out::Pong { payload } => frame::control(frame::PING, 0, &payload),
            Out::GoAway => {
                let mut payload = last_stream.to_be_bytes().to_vec();
                payload.extend_from_slice(&0u32.to_be_bytes());
                let _ = w
                    .write_all(&frame::control(frame::GOAWAY, 0, &payload))
                    .await;
                break;
            }
        };
        if w.write_all(&bytes).await.is_err() {
            break;
        }
    }
    let _ = w.flush().await;
    let _ = w.shutdown().await;
}

async fn read_loop<R: AsyncRead + Unpin>(
    mut r: R,
    out: mpsc::UnboundedSender<Out>,
    incoming: mpsc::Sender<SpdyStream>,
) {
    let mut headers = HeaderReader::default();
    let mut streams: HashMap<u32, mpsc::Sender<Bytes>> = HashMap::new();
    loop {
        let f = match frame::read(&mut r).await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(error = %e, "SPDY connection");
                break;
            }
        };
        match f {
            Frame::Data {
                stream,
                flags,
                payload,
            } => {
                if let Some(tx) = streams.get(&stream) {
                    if !payload.is_empty() && tx.send(payload).await.is_err() {
                        streams.remove(&stream);
                    }
                }
                if flags & FLAG_FIN != 0 {
                    streams.remove(&stream);
                }
            }
            Frame::Control {
                kind: frame::SYN_STREAM,
                flags,
                payload,
            } => {
                if payload.len() < 10 {
                    break;
                }
                let id = frame::stream_id(&payload).unwrap_or(0);
                let hs = match headers.read(&payload[10..]) {
                    Ok(h) => h,
                    Err(e) => {
                        tracing::debug!(error = %e, "SPDY SYN_STREAM headers");
                        break;
                    }
                };
                let (tx, rx) = mpsc::channel(64);
                if flags & FLAG_FIN == 0 {
                    streams.insert(id, tx);
                }
                let _ = out.send(Out::Reply { stream: id });
                let stream = SpdyStream {
                    id,
                    headers: hs,
                    data: rx,
                    out: out.clone(),
                };
                if incoming.send(stream).await.is_err() {
                    let _ = out.send(Out::Reset { stream: id });
                }
            }
            Frame::Control {
                kind: frame::HEADERS,
                payload,
                ..
            } => {
                if payload.len() < 4 || headers.read(&payload[4..]).is_err() {
                    break;
                }
            }
            Frame::Control {
                kind: frame::RST_STREAM,
                payload,
                ..
            } => {
                if let Some(id) = frame::stream_id(&payload) {
                    streams.remove(&id);
                }
            }
            Frame::Control {
                kind: frame::PING,
                payload,
                ..
            } => {
                let _ = out.send(Out::Pong { payload });
            }
            Frame::Control {
                kind: frame::GOAWAY,
                ..
            } => break,
            Frame::Control { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// A client side good enough to open a stream, send data with FIN, and read replies.
    #[tokio::test]
    async fn streams_are_replied_to_and_carry_data_both_ways() {
        let (client, server) = tokio::io::duplex(1 << 16);
        let (mut incoming, conn) = accept(server);
        let (mut cr, mut cw) = tokio::io::split(client);
        let mut hw = HeaderWriter::default();
        let block = hw.write(&[("streamtype".into(), "stdin".into())]).unwrap();
        let mut syn = 1u32.to_be_bytes().to_vec();
        syn.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        syn.extend_from_slice(&block);
        cw.write_all(&frame::control(frame::SYN_STREAM, 0, &syn))
            .await
            .unwrap();
        cw.write_all(&frame::data(1, FLAG_FIN, b"ping"))
            .await
            .unwrap();
        let s = incoming.recv().await.unwrap();
        assert_eq!(s.header("streamtype"), Some("stdin"));
        let (mut rd, wr) = s.split();
        assert_eq!(rd.read().await.unwrap(), Bytes::from_static(b"ping"));
        assert_eq!(rd.read().await, None);
        wr.write(b"pong").unwrap();
        wr.close();
        conn.close();
        let mut wire = Vec::new();
        cr.read_to_end(&mut wire).await.unwrap();
        let mut r = &wire[..];
        let mut hr = HeaderReader::default();
        match frame::read(&mut r).await.unwrap().unwrap() {
            Frame::Control { kind, payload, .. } => {
                assert_eq!(kind, frame::SYN_REPLY);
                assert_eq!(frame::stream_id(&payload), Some(1));
                assert!(hr.read(&payload[4..]).unwrap().is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            frame::read(&mut r).await.unwrap(),
            Some(Frame::Data {
                stream: 1,
                flags: 0,
                payload: Bytes::from_static(b"pong")
            })
        );
        assert_eq!(
            frame::read(&mut r).await.unwrap(),
            Some(Frame::Data {
                stream: 1,
                flags: FLAG_FIN,
                payload: Bytes::new()
            })
        );
        assert!(matches!(
            frame::read(&mut r).await.unwrap(),
            Some(Frame::Control {
                kind: frame::GOAWAY,
                ..
            })
        ));
    }
}
