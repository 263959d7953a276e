//! E-mail alerts to a local SMTP receiver: plain, and STARTTLS with a private CA and a login.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use base64::Engine as _;
use serde_json::json;

use crate::{backends, Server};

/// What the receiver saw: the commands in order and the message.
#[derive(Debug, Default)]
struct Session {
    commands: Vec<String>,
    data: String,
    tls: bool,
}

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

/// Answer one SMTP client, upgrading to TLS on STARTTLS when a server config is given.
fn receive(tcp: &TcpStream, tls: Option<&Arc<rustls::ServerConfig>>) -> Session {
    let mut s = Session::default();
    let mut io: Box<dyn Stream> = Box::new(tcp.try_clone().unwrap());
    io.write_all(b"220 receiver ready\r\n").unwrap();
    let mut reader = BufReader::new(io);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            return s;
        }
        let cmd = line.trim_end().to_owned();
        let verb = cmd.split(' ').next().unwrap_or("").to_ascii_uppercase();
        s.commands.push(if verb == "AUTH" { "AUTH".into() } else { cmd.clone() });
        let reply: &[u8] = match verb.as_str() {
            "EHLO" if tls.is_some() && !s.tls => b"250-receiver\r\n250 STARTTLS\r\n",
            "EHLO" => b"250-receiver\r\n250 AUTH PLAIN\r\n",
            "STARTTLS" => {
                reader.get_mut().write_all(b"220 go ahead\r\n").unwrap();
                let conn = rustls::ServerConnection::new(Arc::clone(tls.unwrap())).unwrap();
                reader = BufReader::new(Box::new(rustls::StreamOwned::new(conn, tcp.try_clone().unwrap())));
                s.tls = true;
                continue;
            }
            "AUTH" => {
                let plain = base64::engine::general_purpose::STANDARD.decode(cmd.rsplit(' ').next().unwrap()).unwrap();
                if plain == b"\0alerts@corp.example\0relay-pw" {
                    b"235 ok\r\n"
                } else {
                    b"535 bad credentials\r\n"
                }
            }
            "DATA" => {
                reader.get_mut().write_all(b"354 send it\r\n").unwrap();
                loop {
                    let mut l = String::new();
                    reader.read_line(&mut l).unwrap();
                    if l == ".\r\n" || l.is_empty() {
                        break;
                    }
                    s.data.push_str(&l);
                }
                b"250 queued\r\n"
            }
            "QUIT" => {
                reader.get_mut().write_all(b"221 bye\r\n").unwrap();
                return s;
            }
            _ => b"250 ok\r\n",
        };
        reader.get_mut().write_all(reply).unwrap();
        reader.get_mut().flush().unwrap();
    }
}

#[test]
fn e_mail_alerts_reach_a_local_relay() {
    for db in backends() {
        let s = Server::start(&db);

        // Plain, to a relay on a trusted network.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = std::thread::spawn(move || receive(&listener.accept().unwrap().0, None));
        let url = format!(
            "smtp+plain://127.0.0.1:{port}?from=uctriage%40corp.example&to=rooms@corp.example,oncall@corp.example"
        );
        let (st, hook) = s.post_json("/api/v1/webhooks", &s.admin, &json!({"kind": "smtp", "url": url}));
        assert_eq!(st, 201, "{hook}");
        assert!(hook["secret"].is_null(), "no secret is made for a relay: {hook}");
        let (st, a) =
            s.call("POST", &format!("/api/v1/webhooks/{}/test", hook["id"].as_str().unwrap()), Some(&s.admin), None);
        assert_eq!((st, a["state"].as_str()), (200, Some("delivered")), "{a}");
        let session = got.join().unwrap();
        let id = a["id"].as_str().unwrap();
        assert!(session.commands.contains(&"MAIL FROM:<uctriage@corp.example>".to_owned()), "{session:?}");
        assert!(session.commands.contains(&"RCPT TO:<oncall@corp.example>".to_owned()), "{session:?}");
        assert!(session.data.contains("Subject: [uctriage] Test alert (recommended)"), "{}", session.data);
        assert!(session.data.contains(&format!("Message-ID: <{id}@uctriage>")), "{}", session.data);

        // STARTTLS with the relay's private CA and a login; the password is the hook's secret.
        let dir = tempfile::tempdir().unwrap();
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let ca = dir.path().join("relay-ca.pem");
        std::fs::write(&ca, ck.cert.pem()).unwrap();
        let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![ck.cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into()),
            )
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = std::thread::spawn(move || receive(&listener.accept().unwrap().0, Some(&Arc::new(cfg))));
        let url = format!(
            "smtp://alerts%40corp.example@localhost:{port}?from=uctriage@corp.example&to=rooms@corp.example&ca={}",
            ca.display()
        );
        let (st, hook) =
            s.post_json("/api/v1/webhooks", &s.admin, &json!({"kind": "smtp", "url": url, "secret": "relay-pw"}));
        assert_eq!(st, 201, "{hook}");
        assert!(hook["secret"].is_null(), "a password the admin gave is not shown back: {hook}");
        assert!(!hook.to_string().contains("relay-pw"));
        let (st, a) =
            s.call("POST", &format!("/api/v1/webhooks/{}/test", hook["id"].as_str().unwrap()), Some(&s.admin), None);
        assert_eq!((st, a["state"].as_str()), (200, Some("delivered")), "{a}");
        let session = got.join().unwrap();
        assert!(session.tls, "the message went over TLS: {session:?}");
        let starttls = session.commands.iter().position(|c| c == "STARTTLS").unwrap();
        let auth = session.commands.iter().position(|c| c == "AUTH").unwrap();
        assert!(starttls < auth, "the login waited for TLS: {session:?}");
        assert!(session.data.contains("To: rooms@corp.example"), "{}", session.data);

        // Bad destinations are refused whole.
        for (body, why) in [
            (json!({"kind": "smtp", "url": "https://x"}), "scheme"),
            (json!({"kind": "smtp", "url": "smtp://relay?to=a@b.c"}), "from"),
            (json!({"kind": "smtp", "url": "smtp://u:pw@relay?from=a@b.c&to=d@e.f"}), "password in the URL"),
            (json!({"kind": "standard", "url": "https://x", "secret": "relay-pw"}), "a bad signing secret"),
        ] {
            assert_eq!(s.post_json("/api/v1/webhooks", &s.admin, &body).0, 422, "{why}");
        }
        // A relay that is down: the attempt fails and says why.
        let dead = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("smtp+plain://127.0.0.1:{dead}?from=a@corp.example&to=b@corp.example");
        let (_, hook) = s.post_json("/api/v1/webhooks", &s.admin, &json!({"kind": "smtp", "url": url}));
        let (_, a) =
            s.call("POST", &format!("/api/v1/webhooks/{}/test", hook["id"].as_str().unwrap()), Some(&s.admin), None);
        assert_ne!(a["state"], "delivered", "{a}");
        assert!(a["last_error"].as_str().unwrap_or("").contains("relay"), "{a}");
    }
}
