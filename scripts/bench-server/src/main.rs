//! The loopback servers of s3rec's benchmarks.
//!
//! `s3rec-bench-server sink` is an S3 endpoint that discards what it is sent, for measuring how many small
//! objects per second a client uploads when the server costs (almost) nothing. It answers:
//! - `PUT` (PutObject, UploadPart, CreateBucket): 200 with an ETag, after reading and dropping the body;
//! - `GET` with `list-type=2` (ListObjectsV2): a page of the objects it was sent, 1,000 keys at most;
//! - `POST ?uploads` / `?uploadId=` (multipart start and completion): the minimal XML answers;
//! - `GET /?sink-puts`: the number of PUTs answered so far, as plain text (for the benchmark's check);
//! - anything else (HEAD, GET of a bucket, DELETE): 200 with no body.
//!
//! It checks no signature. It remembers each object's size by bucket and key (not its bytes) and answers
//! listings from that, cheaply (a sorted map), so a no-op over many objects measures the client.
//!
//! `s3rec-bench-server proxy --upstream URL [--latency-ms L] [--max-keys N]` forwards every request to
//! URL, after waiting L ms (the round trip a region adds), with `max-keys` of a listing lowered to N
//! (AWS's cap is 1,000). Headers, the Host header included, pass unchanged, so signatures still verify,
//! except where `max-keys` was lowered. Connections to the upstream are kept alive and pooled, so the
//! proxy costs tens of microseconds per request rather than a connection each.
//!
//! `s3rec-bench-server versions --count N` is a bucket of N generated object versions, for measuring
//! `s3rec cost` over a listing too large for an emulator. It answers ListObjectVersions (`GET ?versions`)
//! with pages of at most 1,000 entries, generated from their index (no state: four entries per key,
//! newest first, every tenth key's newest a delete marker, classes, sizes from 1 KiB to 128 MiB and
//! ages spread deterministically), ListMultipartUploads (`GET ?uploads`) with none, and anything else
//! with 200 and no body.
//!
//! All take `--port P` (default: any free port), print `http://127.0.0.1:PORT` once they listen, and
//! stop on SIGINT or SIGTERM.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderMap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

type Body = BoxBody<Bytes, hyper::Error>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

/// What the sink remembers of each object: its size, by bucket and key (the request path as sent, which
/// for the benchmarks' keys, letters, digits, `-`, `.`, `_` and `/`, is the key itself).
type Objects = std::sync::Mutex<std::collections::BTreeMap<String, u64>>;

/// Every remembered object's LastModified: fixed, and later than any file of the data sets (2024), so
/// tools that compare a file's mtime with it see the object as up to date.
const LAST_MODIFIED: &str = "2030-01-01T00:00:00.000Z";

struct Sink {
    puts: AtomicU64,
    objects: Objects,
    /// Every object's LastModified ([`LAST_MODIFIED`]).
    started: String,
}

/// The value of query parameter `name`, percent-decoded.
fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// One ListObjectsV2 page of `bucket` from the remembered objects: keys after `start-after` or the
/// continuation token (the last key of the previous page), under `prefix`, at most `max-keys` (1,000 at
/// most, as on AWS). Keys are returned as stored, which `encoding-type=url` leaves unchanged for the
/// benchmarks' keys.
fn listing(sink: &Sink, bucket: &str, query: &str) -> String {
    let prefix = query_value(query, "prefix").unwrap_or_default();
    let after = query_value(query, "continuation-token").or_else(|| query_value(query, "start-after"));
    let max = query_value(query, "max-keys")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(1000)
        .min(1000);
    let encoded = query_value(query, "encoding-type").is_some_and(|e| e == "url");
    let from = format!("{bucket}/{}", after.as_deref().unwrap_or(prefix.as_str()));
    let start = format!("{bucket}/{prefix}");
    let objects = sink.objects.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let range = objects
        .range(from.clone()..)
        .filter(|(k, _)| after.is_none() || **k != from)
        .take_while(|(k, _)| k.starts_with(&start));
    let mut contents = String::new();
    let mut count = 0;
    let mut last = String::new();
    let mut truncated = false;
    for (key, size) in range {
        if count == max {
            truncated = true;
            break;
        }
        let key = &key[bucket.len() + 1..];
        contents.push_str(&format!(
            "<Contents><Key>{key}</Key><LastModified>{}</LastModified><ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>{size}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            sink.started
        ));
        count += 1;
        last = key.to_string();
    }
    let next = if truncated {
        format!("<NextContinuationToken>{last}</NextContinuationToken>")
    } else {
        String::new()
    };
    let encoding = if encoded {
        "<EncodingType>url</EncodingType>"
    } else {
        ""
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{bucket}</Name><Prefix>{prefix}</Prefix><KeyCount>{count}</KeyCount><MaxKeys>{max}</MaxKeys>{encoding}<IsTruncated>{truncated}</IsTruncated>{next}{contents}</ListBucketResult>"
    )
}

async fn sink(req: Request<Incoming>, sink: Arc<Sink>) -> Result<Response<Body>, Infallible> {
    let query = req.uri().query().unwrap_or("").to_string();
    let path = req.uri().path().trim_start_matches('/').to_string();
    let method = req.method().clone();
    // The body is read to its end and dropped, as a server that stored it would have read it.
    let mut body = req.into_body();
    let mut size = 0u64;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => size += frame.data_ref().map_or(0, |d| d.len() as u64),
            Err(_) => break,
        }
    }
    let xml = |text: String| {
        let mut response = Response::new(full(text));
        response.headers_mut().insert(
            "Content-Type",
            hyper::header::HeaderValue::from_static("application/xml"),
        );
        response
    };
    let response = if method == Method::PUT {
        sink.puts.fetch_add(1, Ordering::Relaxed);
        // A PUT of a bucket (no key) creates nothing to remember; a part is remembered under its key
        // with the part's size, which only matters for listings of multipart objects.
        if path.contains('/') && !query.contains("partNumber=") {
            sink.objects
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(path, size);
        }
        let mut response = Response::new(full(Bytes::new()));
        response.headers_mut().insert(
            "ETag",
            hyper::header::HeaderValue::from_static("\"d41d8cd98f00b204e9800998ecf8427e\""),
        );
        response
    } else if method == Method::GET && query == "sink-puts" {
        Response::new(full(sink.puts.load(Ordering::Relaxed).to_string()))
    } else if method == Method::GET && query.contains("list-type=2") {
        xml(listing(&sink, path.trim_end_matches('/'), &query))
    } else if method == Method::POST && query.contains("uploads") {
        xml("<InitiateMultipartUploadResult><Bucket>sink</Bucket><Key>k</Key><UploadId>sink-upload</UploadId></InitiateMultipartUploadResult>".to_string())
    } else if method == Method::POST && query.contains("uploadId=") {
        xml("<CompleteMultipartUploadResult><Bucket>sink</Bucket><Key>k</Key><ETag>\"sink\"</ETag></CompleteMultipartUploadResult>".to_string())
    } else {
        Response::new(full(Bytes::new()))
    };
    Ok(response)
}

/// Entries (versions and delete markers) per key of the `versions` bucket.
const VERSIONS_PER_KEY: u64 = 4;

/// The `versions` bucket's "now": its entries are dated back from here.
const VERSIONS_NOW_SECS: i64 = 1_796_083_200; // 2026-12-01T00:00:00Z

/// A well-mixed 64-bit hash of `x` (splitmix64's finaliser).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// `YYYY-MM-DDThh:mm:ss.000Z` of Unix seconds (Howard Hinnant's civil-from-days).
fn iso8601(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// One ListObjectVersions page of the generated bucket, after `key-marker`/`version-id-marker`.
fn versions_page(count: u64, query: &str) -> String {
    let max = query_value(query, "max-keys")
        .and_then(|m| m.parse::<u64>().ok())
        .unwrap_or(1000)
        .min(1000);
    let key_of = |i: u64| format!("k/{:010}", i / VERSIONS_PER_KEY);
    let start = match (
        query_value(query, "version-id-marker"),
        query_value(query, "key-marker"),
    ) {
        (Some(v), _) if !v.is_empty() => v.trim_start_matches('v').parse::<u64>().map_or(count, |i| i + 1),
        (_, Some(k)) if !k.is_empty() => k
            .trim_start_matches("k/")
            .parse::<u64>()
            .map_or(count, |key| (key + 1) * VERSIONS_PER_KEY),
        _ => 0,
    };
    let end = (start + max).min(count);
    let mut entries = String::with_capacity(400 * (end - start) as usize);
    for i in start..end {
        let key_index = i / VERSIONS_PER_KEY;
        let j = i % VERSIONS_PER_KEY;
        let h = mix(i);
        let age_days = (key_index * 13 % 700 + j * 30) as i64;
        let modified = iso8601(VERSIONS_NOW_SECS - age_days * 86_400 - (h % 86_400) as i64 % 3600);
        let latest = j == 0;
        if latest && key_index % 10 == 9 {
            entries.push_str(&format!(
                "<DeleteMarker><Key>{}</Key><VersionId>v{i}</VersionId><IsLatest>true</IsLatest><LastModified>{modified}</LastModified></DeleteMarker>",
                key_of(i)
            ));
            continue;
        }
        let class = match h % 20 {
            0..=9 => "STANDARD",
            10..=12 => "STANDARD_IA",
            13..=14 => "INTELLIGENT_TIERING",
            15..=16 => "GLACIER_IR",
            17..=18 => "GLACIER",
            _ => "DEEP_ARCHIVE",
        };
        let size = (1u64 << (10 + (h >> 8) % 18)) + (h >> 32) % 1000;
        entries.push_str(&format!(
            "<Version><Key>{}</Key><VersionId>v{i}</VersionId><IsLatest>{latest}</IsLatest><LastModified>{modified}</LastModified><ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>{size}</Size><StorageClass>{class}</StorageClass></Version>",
            key_of(i)
        ));
    }
    let truncated = end < count;
    let next = if truncated && end > start {
        format!(
            "<NextKeyMarker>{}</NextKeyMarker><NextVersionIdMarker>v{}</NextVersionIdMarker>",
            key_of(end - 1),
            end - 1
        )
    } else {
        String::new()
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListVersionsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>versions</Name><Prefix></Prefix><MaxKeys>{max}</MaxKeys><IsTruncated>{truncated}</IsTruncated>{next}{entries}</ListVersionsResult>"
    )
}

/// The `versions` server: listings of the generated bucket, nothing else.
async fn versions(req: Request<Incoming>, count: u64) -> Result<Response<Body>, Infallible> {
    let query = req.uri().query().unwrap_or("").to_string();
    let has = |name: &str| {
        query
            .split('&')
            .any(|p| p == name || p.starts_with(&format!("{name}=")))
    };
    let body = if req.method() == Method::GET && has("versions") {
        versions_page(count, &query)
    } else if req.method() == Method::GET && has("uploads") {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>versions</Bucket><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>".to_string()
    } else {
        return Ok(Response::new(full(Bytes::new())));
    };
    let mut response = Response::new(full(body));
    response.headers_mut().insert(
        "Content-Type",
        hyper::header::HeaderValue::from_static("application/xml"),
    );
    Ok(response)
}

struct Proxy {
    upstream: String,
    latency: Duration,
    max_keys: Option<u32>,
    client: Client<HttpConnector, Incoming>,
}

/// Headers that describe one connection, not the message (RFC 9110, section 7.6.1), and `Expect`, which
/// this side has already answered.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    ] {
        headers.remove(name);
    }
}

/// The path and query with `max-keys` lowered to `cap` where it asks for more.
fn cap_max_keys(path_and_query: &str, cap: Option<u32>) -> String {
    let (Some(cap), Some((path, query))) = (cap, path_and_query.split_once('?')) else {
        return path_and_query.to_string();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some(("max-keys", v)) if v.parse::<u64>().is_ok_and(|n| n > u64::from(cap)) => format!("max-keys={cap}"),
            _ => p.to_string(),
        })
        .collect();
    format!("{path}?{}", parts.join("&"))
}

async fn forward(req: Request<Incoming>, proxy: Arc<Proxy>) -> Result<Response<Body>, Infallible> {
    tokio::time::sleep(proxy.latency).await;
    let (mut parts, body) = req.into_parts();
    let target = cap_max_keys(parts.uri.path_and_query().map_or("/", |p| p.as_str()), proxy.max_keys);
    let Ok(uri) = format!("{}{target}", proxy.upstream).parse::<Uri>() else {
        let mut bad = Response::new(full("bad request target"));
        *bad.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(bad);
    };
    parts.uri = uri;
    strip_hop_by_hop(&mut parts.headers);
    match proxy.client.request(Request::from_parts(parts, body)).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Ok(Response::from_parts(parts, body.boxed()))
        }
        Err(e) => {
            let mut failed = Response::new(full(format!("upstream: {e}")));
            *failed.status_mut() = StatusCode::BAD_GATEWAY;
            Ok(failed)
        }
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: s3rec-bench-server sink [--port P]\n       s3rec-bench-server proxy --upstream URL [--latency-ms L] [--max-keys N] [--port P]\n       s3rec-bench-server versions --count N [--port P]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = args.first().cloned() else { usage() };
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .map(|i| args.get(i + 1).cloned().unwrap_or_else(|| usage()))
    };
    let port: u16 = value("--port").map_or(0, |p| p.parse().unwrap_or_else(|_| usage()));
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("http://{}", listener.local_addr()?);

    let sink_state = Arc::new(Sink {
        puts: AtomicU64::new(0),
        objects: Objects::default(),
        started: LAST_MODIFIED.to_string(),
    });
    let version_count: Option<u64> = match mode.as_str() {
        "versions" => Some(
            value("--count")
                .unwrap_or_else(|| usage())
                .parse()
                .unwrap_or_else(|_| usage()),
        ),
        _ => None,
    };
    let proxy = match mode.as_str() {
        "sink" | "versions" => None,
        "proxy" => Some(Arc::new(Proxy {
            upstream: value("--upstream")
                .unwrap_or_else(|| usage())
                .trim_end_matches('/')
                .to_string(),
            latency: Duration::from_millis(value("--latency-ms").map_or(0, |l| l.parse().unwrap_or_else(|_| usage()))),
            max_keys: value("--max-keys").map(|n| n.parse().unwrap_or_else(|_| usage())),
            client: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(1024)
                .build_http(),
        })),
        _ => usage(),
    };
    let serve = async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (sink_state, proxy) = (sink_state.clone(), proxy.clone());
            tokio::spawn(async move {
                let io = TokioIo::new(stream);
                let _ = match (proxy, version_count) {
                    (_, Some(count)) => {
                        let service = service_fn(move |req| versions(req, count));
                        http1::Builder::new().serve_connection(io, service).await
                    }
                    (Some(proxy), None) => {
                        let service = service_fn(move |req| forward(req, proxy.clone()));
                        http1::Builder::new().serve_connection(io, service).await
                    }
                    (None, None) => {
                        let service = service_fn(move |req| sink(req, sink_state.clone()));
                        http1::Builder::new().serve_connection(io, service).await
                    }
                };
            });
        }
    };
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        () = serve => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    Ok(())
}
