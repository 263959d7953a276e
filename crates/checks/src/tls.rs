//! `check tls`: a live handshake and the certificate checks on what the server sent. Also the TLS
//! client used by `check sip --tls` and the interception check of `check network`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, ProtocolVersion, SignatureScheme, SupportedProtocolVersion};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::certinfo::{self, Expectations, TrustStores};
use crate::target::Target;
use crate::{fixes, Check, Error, Profile, Report, TlsArgs};

/// Accepts any chain but records it: the chain is judged afterwards by [`certinfo`], so that an
/// untrusted or expired certificate is reported in detail instead of ending the handshake.
#[derive(Debug)]
struct Recorder {
    chain: Mutex<Vec<CertificateDer<'static>>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        if let Ok(mut slot) = self.chain.lock() {
            *slot = chain;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A finished handshake.
#[derive(Debug)]
pub struct Session {
    pub stream: TlsStream<TcpStream>,
    pub chain: Vec<CertificateDer<'static>>,
    pub version: String,
    pub cipher: String,
    pub elapsed: Duration,
}

/// A failed handshake, with whatever chain the server had sent before it failed.
#[derive(Debug)]
pub struct Failed {
    pub reason: String,
    pub chain: Vec<CertificateDer<'static>>,
    /// The server refused every protocol version offered.
    pub version_refused: bool,
}

fn version_name(v: Option<ProtocolVersion>) -> String {
    match v {
        Some(ProtocolVersion::TLSv1_3) => "TLS 1.3".into(),
        Some(ProtocolVersion::TLSv1_2) => "TLS 1.2".into(),
        Some(other) => format!("{other:?}"),
        None => "unknown".into(),
    }
}

/// The SNI name for a target: the given FQDN, else the host when it is a name, else its address.
pub fn server_name(target: &Target, name: Option<&str>) -> Result<ServerName<'static>, Error> {
    let raw = name.map_or_else(|| target.host.clone(), str::to_string);
    ServerName::try_from(raw.clone()).map_err(|_| Error::Usage(format!("{raw:?} cannot be used as a TLS server name")))
}

/// Handshake over an open TCP stream, offering `versions` (TLS 1.3 and 1.2 by default).
pub async fn handshake(
    tcp: TcpStream,
    sni: ServerName<'static>,
    versions: &[&'static SupportedProtocolVersion],
    timeout: Duration,
) -> Result<Session, Failed> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let recorder =
        Arc::new(Recorder { chain: Mutex::new(Vec::new()), algorithms: provider.signature_verification_algorithms });
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| Failed { reason: e.to_string(), chain: Vec::new(), version_refused: false })?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let start = Instant::now();
    let connector = TlsConnector::from(Arc::new(config));
    let result = tokio::time::timeout(timeout, connector.connect(sni, tcp)).await;
    let chain = recorder.chain.lock().map(|c| c.clone()).unwrap_or_default();
    match result {
        Err(_) => Err(Failed {
            reason: format!("no handshake within {} s", timeout.as_secs()),
            chain,
            version_refused: false,
        }),
        Ok(Err(e)) => {
            let text = e.to_string();
            let version_refused = text.contains("ProtocolVersion") || text.contains("protocol version");
            Err(Failed { reason: text, chain, version_refused })
        }
        Ok(Ok(stream)) => {
            let (_, conn) = stream.get_ref();
            let version = version_name(conn.protocol_version());
            let cipher = conn.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())).unwrap_or_default();
            Ok(Session { stream, chain, version, cipher, elapsed: start.elapsed() })
        }
    }
}

/// Why a TCP connection could not be opened: the name did not resolve (DNS), or it resolved and
/// the connection failed (refused, unreachable, no answer: the host or a firewall).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    Unresolved { host: String, reason: String },
    Failed(String),
}

impl ConnectError {
    /// What to write in a check's detail: the DNS failure by itself, a connection failure after
    /// the address it was for.
    pub fn detail(&self, authority: &str) -> String {
        match self {
            ConnectError::Unresolved { .. } => self.to_string(),
            ConnectError::Failed(why) => format!("{authority}: {why}"),
        }
    }

    /// The fix: DNS's when the name did not resolve, `connection` (a firewall or listener fix)
    /// when it resolved but the connection failed.
    pub fn fix(&self, connection: impl FnOnce() -> String) -> String {
        match self {
            ConnectError::Unresolved { host, .. } => crate::fixes::dns(host),
            ConnectError::Failed(_) => connection(),
        }
    }
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Unresolved { host, reason } => write!(f, "DNS: {host} does not resolve ({reason})"),
            ConnectError::Failed(why) => f.write_str(why),
        }
    }
}

impl From<ConnectError> for String {
    fn from(e: ConnectError) -> String {
        e.to_string()
    }
}

/// Resolve the target's name, then open a TCP connection, each within `timeout`. An IP address
/// needs no DNS; a name that does not resolve is reported as such, not as a connection failure.
pub async fn connect_tcp(target: &Target, timeout: Duration) -> Result<(TcpStream, Duration), ConnectError> {
    let start = Instant::now();
    let unresolved = |reason: String| ConnectError::Unresolved { host: target.host.clone(), reason };
    let addrs: Vec<std::net::SocketAddr> =
        match tokio::time::timeout(timeout, tokio::net::lookup_host((target.host.as_str(), target.port))).await {
            Err(_) => return Err(unresolved(format!("no answer from DNS within {} s", timeout.as_secs()))),
            Ok(Err(e)) => return Err(unresolved(e.to_string())),
            Ok(Ok(addrs)) => addrs.collect(),
        };
    if addrs.is_empty() {
        return Err(unresolved("no address records".to_owned()));
    }
    match tokio::time::timeout(timeout, TcpStream::connect(&addrs[..])).await {
        Err(_) => Err(ConnectError::Failed(format!("no answer within {} s", timeout.as_secs()))),
        Ok(Err(e)) => Err(ConnectError::Failed(e.to_string())),
        Ok(Ok(s)) => Ok((s, start.elapsed())),
    }
}

pub(crate) fn millis(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

pub async fn check(args: &TlsArgs, timeout: Duration) -> Result<Report, Error> {
    let target = Target::parse(&args.target, 443)?;
    let trust = TrustStores::load(&args.trust)?;
    let sni = server_name(&target, args.name.as_deref())?;
    let expected = args.name.clone().or_else(|| Some(target.host.clone()));
    let mut report = Report::new(format!(
        "tls {} (name {}, profile {})",
        target.authority(),
        expected.as_deref().unwrap_or("-"),
        profile_name(args.profile)
    ));
    let all = rustls::ALL_VERSIONS;
    let tcp = match connect_tcp(&target, timeout).await {
        Ok((tcp, t)) => {
            report.push(Check::pass("tcp.connect", format!("connected to {} in {}", target.authority(), millis(t))));
            tcp
        }
        Err(e) => {
            report.push(Check::fail(
                "tcp.connect",
                e.detail(&target.authority()),
                e.fix(|| fixes::network("Check that the host is up and listening on this port, and that firewalls between here and there allow it.")),
            ));
            return Ok(report);
        }
    };
    match handshake(tcp, sni.clone(), all, timeout).await {
        Ok(session) => {
            report.push(Check::pass(
                "tls.handshake",
                format!("{}, {}, {}", session.version, session.cipher, millis(session.elapsed)),
            ));
            report.push(Check::pass("tls.version", format!("{} negotiated (TLS 1.2 or newer)", session.version)));
            tls12_only(&target, &sni, args.profile, timeout, &mut report).await;
            certinfo::inspect(
                &session.chain,
                Expectations { name: expected.as_deref(), profile: args.profile },
                &trust,
                &mut report,
            );
        }
        Err(failed) => {
            if failed.version_refused {
                report.push(Check::fail(
                    "tls.version",
                    format!("the server would not agree TLS 1.2 or 1.3: {}", failed.reason),
                    "Enable TLS 1.2 (and 1.3 where supported) on the server; Teams, Direct Routing and the Pexip Teams Connector refuse TLS 1.0 and 1.1.",
                ));
            } else {
                report.push(Check::fail(
                    "tls.handshake",
                    failed.reason.clone(),
                    "Check that this port speaks TLS (not plain SIP or HTTP), that TLS 1.2 is enabled, and that the server has a certificate and key bound to it.",
                ));
            }
            if !failed.chain.is_empty() {
                certinfo::inspect(
                    &failed.chain,
                    Expectations { name: expected.as_deref(), profile: args.profile },
                    &trust,
                    &mut report,
                );
            }
        }
    }
    Ok(report)
}

/// A second handshake offering only TLS 1.2: Microsoft's SIP proxies and older Windows clients need it.
async fn tls12_only(
    target: &Target,
    sni: &ServerName<'static>,
    profile: Profile,
    timeout: Duration,
    report: &mut Report,
) {
    let Ok((tcp, _)) = connect_tcp(target, timeout).await else {
        report.push(Check::skip("tls.tls12", "could not reconnect to test TLS 1.2 alone"));
        return;
    };
    match handshake(tcp, sni.clone(), &[&rustls::version::TLS12], timeout).await {
        Ok(s) => report.push(Check::pass("tls.tls12", format!("TLS 1.2 accepted ({})", s.cipher))),
        Err(f) => {
            let detail = format!("a TLS 1.2-only handshake failed: {}", f.reason);
            let fix = "Enable TLS 1.2 on the server alongside TLS 1.3; Microsoft's SIP proxies and many Windows clients connect with TLS 1.2.";
            report.push(if profile == Profile::Generic {
                Check::warn("tls.tls12", detail, fix)
            } else {
                Check::fail("tls.tls12", detail, fix)
            });
        }
    }
}

pub(crate) fn profile_name(p: Profile) -> &'static str {
    match p {
        Profile::Generic => "generic",
        Profile::DirectRouting => "direct-routing",
        Profile::Pexip => "pexip",
    }
}
