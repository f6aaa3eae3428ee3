//! Calls to the services: one lazily connected HTTP/2 channel per service, a pass-through
//! codec so the gateway forwards protobuf bytes without knowing the generated types, and the
//! metadata every hop carries (the caller's token, trace context, request id, deadline).

use bytes::{Buf, BufMut, Bytes};
use std::collections::HashMap;
use std::time::Duration;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// A codec that moves already-encoded protobuf messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Self::Error> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// Channels to the services by key (`enrollment`, `settlement`, `ltc`, `procurement`, `supervision`).
#[derive(Debug, Clone)]
pub struct Upstreams {
    channels: HashMap<String, Channel>,
}

impl Upstreams {
    /// Lazily connecting channels (the gateway starts before its services are up).
    pub fn new(
        cfg: &yibao_runtime::config::Upstreams,
    ) -> Result<Upstreams, yibao_runtime::config::ConfigError> {
        let mut channels = HashMap::new();
        for service in yibao_runtime::upstream::SERVICES {
            channels.insert(service.key.to_string(), cfg.channel(service.key)?);
        }
        Ok(Upstreams { channels })
    }

    /// The channel of a service.
    pub fn channel(&self, key: &str) -> Option<Channel> {
        self.channels.get(key).cloned()
    }

    /// All channels with their keys.
    pub fn all(&self) -> impl Iterator<Item = (&String, &Channel)> {
        self.channels.iter()
    }
}

/// Metadata forwarded on every upstream call.
#[derive(Debug, Clone, Default)]
pub struct Forwarded {
    /// The caller's `authorization` header (services verify it again).
    pub authorization: Option<http::HeaderValue>,
    /// Request id.
    pub request_id: String,
}

/// A unary call with pre-encoded bytes.
pub async fn unary(
    channel: Channel,
    path: &str,
    message: Bytes,
    fwd: &Forwarded,
    timeout: Duration,
) -> Result<Bytes, tonic::Status> {
    let mut client = tonic::client::Grpc::new(channel);
    client
        .ready()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("service unavailable: {e}")))?;
    let mut req = tonic::Request::new(message);
    req.set_timeout(timeout);
    yibao_runtime::upstream::forward_metadata(req.metadata_mut(), fwd.authorization.as_ref());
    if let Ok(v) = tonic::metadata::MetadataValue::try_from(fwd.request_id.as_str()) {
        req.metadata_mut().insert("x-request-id", v);
    }
    let path = http::uri::PathAndQuery::try_from(path)
        .map_err(|e| tonic::Status::internal(e.to_string()))?;
    let reply = tokio::time::timeout(timeout, client.unary(req, path, RawCodec))
        .await
        .map_err(|_| {
            tonic::Status::deadline_exceeded(format!(
                "the service did not answer within {} ms",
                timeout.as_millis()
            ))
        })??;
    Ok(reply.into_inner())
}
