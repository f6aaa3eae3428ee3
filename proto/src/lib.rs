//! Generated types, clients and servers of Yibao's protobuf contracts, and the encoded
//! descriptor set (with custom options) used by gRPC reflection and the gateway's transcoder.
#![allow(missing_docs, clippy::all, missing_debug_implementations)]

/// The encoded `FileDescriptorSet` of every contract, imports and source info included.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/yibao_descriptor.bin"));

pub mod google {
    pub mod api {
        tonic::include_proto!("google.api");
    }
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

pub mod common {
    pub mod v1 {
        tonic::include_proto!("yibao.common.v1");
    }
}

pub mod enrollment {
    pub mod v1 {
        tonic::include_proto!("yibao.enrollment.v1");
    }
}

pub mod settlement {
    pub mod v1 {
        tonic::include_proto!("yibao.settlement.v1");
    }
}

pub mod ltc {
    pub mod v1 {
        tonic::include_proto!("yibao.ltc.v1");
    }
}

pub mod procurement {
    pub mod v1 {
        tonic::include_proto!("yibao.procurement.v1");
    }
}

pub mod supervision {
    pub mod v1 {
        tonic::include_proto!("yibao.supervision.v1");
    }
}

pub mod events {
    pub mod v1 {
        tonic::include_proto!("yibao.events.v1");
    }
}
