//! An S3 endpoint that discards what it is sent, for measuring how many small objects per second a
//! client can upload when the server costs (almost) nothing.
//!
//! `s3rec-bench-sink PORT` listens on 127.0.0.1:PORT and answers:
//! - `PUT` (PutObject, UploadPart, CreateBucket): 200 with an ETag, after reading and dropping the body;
//! - `GET` with `list-type=2` (ListObjectsV2): an empty listing, so every file counts as new;
//! - `POST ?uploads` / `?uploadId=` (multipart start and completion): the minimal XML answers;
//! - `GET /?sink-puts`: the number of PUTs answered so far, as plain text (for the benchmark's check);
//! - anything else (HEAD, GET of a bucket, DELETE): 200 with no body.
//!
//! It checks no signature and keeps no state; it prints `http://127.0.0.1:PORT` once it listens, and the
//! number of PUTs it answered on stderr when it ends (SIGINT/SIGTERM close it with the process).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const EMPTY_LISTING: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>sink</Name><Prefix></Prefix>\
<KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>";

async fn answer(req: Request<Incoming>, puts: Arc<AtomicU64>) -> Result<Response<Full<Bytes>>, Infallible> {
    let query = req.uri().query().unwrap_or("").to_string();
    let method = req.method().clone();
    // The body is read to its end and dropped, as a server that stored it would have read it.
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            break;
        }
    }
    let xml = |text: String| {
        Response::builder()
            .header("Content-Type", "application/xml")
            .body(Full::new(Bytes::from(text)))
            .unwrap_or_default()
    };
    let response = if method == Method::PUT {
        puts.fetch_add(1, Ordering::Relaxed);
        Response::builder()
            .header("ETag", "\"d41d8cd98f00b204e9800998ecf8427e\"")
            .body(Full::new(Bytes::new()))
            .unwrap_or_default()
    } else if method == Method::GET && query == "sink-puts" {
        // The benchmark's own question: how many PUTs were answered so far.
        Response::new(Full::new(Bytes::from(puts.load(Ordering::Relaxed).to_string())))
    } else if method == Method::GET && query.contains("list-type=2") {
        xml(EMPTY_LISTING.to_string())
    } else if method == Method::POST && query.contains("uploads") {
        xml("<InitiateMultipartUploadResult><Bucket>sink</Bucket><Key>k</Key><UploadId>sink-upload</UploadId></InitiateMultipartUploadResult>".to_string())
    } else if method == Method::POST && query.contains("uploadId=") {
        xml("<CompleteMultipartUploadResult><Bucket>sink</Bucket><Key>k</Key><ETag>\"sink\"</ETag></CompleteMultipartUploadResult>".to_string())
    } else {
        Response::new(Full::new(Bytes::new()))
    };
    Ok(response)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("http://{}", listener.local_addr()?);
    let puts = Arc::new(AtomicU64::new(0));
    let report = puts.clone();
    let serve = async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            let puts = puts.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| answer(req, puts.clone()));
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    };
    tokio::select! {
        () = serve => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    eprintln!("s3rec-bench-sink: {} PUTs answered", report.load(Ordering::Relaxed));
    Ok(())
}
