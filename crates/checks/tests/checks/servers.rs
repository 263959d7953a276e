//! Loopback peers for the tests, each on its own thread with blocking sockets (the checks run
//! their own tokio runtime; these stay out of it). Threads end with the test process.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, CNAME, SRV};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

fn tls_config(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Arc<ServerConfig> {
    let config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("test certificate and key match");
    Arc::new(config)
}

/// A TLS server that completes handshakes and then waits for the client to go.
pub fn tls_server(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> SocketAddr {
    tls_server_with(chain, key, |_| {})
}

/// A TLS server that runs `serve` on each connection after the handshake.
pub fn tls_server_with(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    serve: fn(&mut StreamOwned<ServerConnection, std::net::TcpStream>),
) -> SocketAddr {
    let config = tls_config(chain, key);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = config.clone();
            thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let Ok(conn) = ServerConnection::new(config) else { return };
                let mut tls = StreamOwned::new(conn, stream);
                if tls.conn.complete_io(&mut tls.sock).is_err() {
                    return;
                }
                serve(&mut tls);
                let mut sink = [0u8; 1024];
                while matches!(tls.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

/// A TCP port that accepts connections and does nothing.
pub fn tcp_listener() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    addr
}

/// A TCP port with nothing listening (connections are refused).
pub fn closed_tcp_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// A STUN responder answering binding requests with XOR-MAPPED-ADDRESS.
pub fn stun_responder() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            if let Some(tid) = uctriage_checks::stun::parse_binding_request(&buf[..n]) {
                let _ = socket.send_to(&uctriage_checks::stun::binding_success(&tid, peer), peer);
            }
        }
    });
    addr
}

/// A UDP port that receives and never answers (a firewall dropping packets).
pub fn silent_udp() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while socket.recv_from(&mut buf).is_ok() {}
    });
    addr
}

fn sip_answer(request: &str, status: &str) -> String {
    let header = |name: &str| {
        request
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&format!("{}:", name.to_ascii_lowercase())))
            .map(str::to_string)
            .unwrap_or_default()
    };
    format!(
        "SIP/2.0 100 Trying\r\n{}\r\n{}\r\nContent-Length: 0\r\n\r\nSIP/2.0 {status}\r\n{}\r\n{}\r\n{}\r\n{}\r\nServer: loopback-sbc/1.0\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\nContent-Length: 0\r\n\r\n",
        header("Via"),
        header("Call-ID"),
        header("Via"),
        header("From"),
        header("To"),
        header("Call-ID"),
    )
}

/// A SIP responder over UDP answering OPTIONS with `status` (e.g. "200 OK").
pub fn sip_udp(status: &'static str) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    thread::spawn(move || {
        let mut buf = vec![0u8; 65_535];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            if req.starts_with("OPTIONS ") {
                // Provisional and final answers as separate datagrams, as a proxy would send.
                let answer = sip_answer(&req, status);
                for part in answer.split_inclusive("\r\n\r\n") {
                    let _ = socket.send_to(part.as_bytes(), peer);
                }
            }
        }
    });
    addr
}

/// A SIP responder over TLS answering OPTIONS with 200 OK.
pub fn sip_tls(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> SocketAddr {
    tls_server_with(chain, key, |tls| {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        while !data.windows(4).any(|w| w == b"\r\n\r\n") {
            match tls.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
        let req = String::from_utf8_lossy(&data).into_owned();
        let _ = tls.write_all(sip_answer(&req, "200 OK").as_bytes());
        let _ = tls.flush();
    })
}

/// An HTTP proxy that answers every request with 407 Proxy Authentication Required.
pub fn proxy_407() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut data = Vec::new();
                let mut buf = [0u8; 1024];
                while !data.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => data.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\nProxy-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n",
                );
            });
        }
    });
    addr
}

/// A record the test DNS server answers with.
pub enum Answer {
    Cname(&'static str),
    Srv(u16, &'static str),
    A(Ipv4Addr),
}

/// A DNS server on UDP answering from `zone` (owner name without the trailing dot); other names
/// get NXDOMAIN, other types of a known name an empty answer.
pub fn dns_server(zone: Vec<(&'static str, Answer)>) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let mut by_name: HashMap<String, Vec<Answer>> = HashMap::new();
    for (name, answer) in zone {
        by_name.entry(name.to_ascii_lowercase()).or_default().push(answer);
    }
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let Ok(query) = Message::from_vec(&buf[..n]) else { continue };
            let mut resp = Message::new();
            resp.set_id(query.id())
                .set_message_type(MessageType::Response)
                .set_op_code(OpCode::Query)
                .set_authoritative(true)
                .set_recursion_desired(query.recursion_desired())
                .set_recursion_available(true);
            let Some(q) = query.queries().first().cloned() else { continue };
            let qname = q.name().to_utf8().trim_end_matches('.').to_ascii_lowercase();
            match by_name.get(&qname) {
                None => {
                    resp.set_response_code(ResponseCode::NXDomain);
                }
                Some(answers) => {
                    for a in answers {
                        let rdata = match (a, q.query_type()) {
                            (Answer::Cname(t), RecordType::CNAME) => {
                                RData::CNAME(CNAME(Name::from_utf8(format!("{t}.")).unwrap()))
                            }
                            (Answer::Srv(port, t), RecordType::SRV) => {
                                RData::SRV(SRV::new(100, 1, *port, Name::from_utf8(format!("{t}.")).unwrap()))
                            }
                            (Answer::A(ip), RecordType::A) => RData::A(A(*ip)),
                            _ => continue,
                        };
                        resp.add_answer(Record::from_rdata(q.name().clone(), 300, rdata));
                    }
                }
            }
            resp.add_query(q);
            if let Ok(bytes) = resp.to_vec() {
                let _ = socket.send_to(&bytes, peer);
            }
        }
    });
    addr
}
