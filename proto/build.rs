//! Compiles every `.proto` under `yibao/` with protox (no protoc on the machine) and generates
//! tonic clients and servers. Writes only to `OUT_DIR`; the descriptor set used for reflection
//! and by the gateway's transcoder is encoded with options preserved (custom method options
//! such as `google.api.http` and `yibao.common.v1.access` survive).

use std::path::{Path, PathBuf};

fn protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let mut files = Vec::new();
    protos(&root.join("yibao"), &mut files)?;
    files.sort();
    println!("cargo:rerun-if-changed=yibao");
    println!("cargo:rerun-if-changed=google");

    let mut compiler = protox::Compiler::new([&root])?;
    compiler.include_imports(true).include_source_info(true);
    for f in &files {
        compiler.open_file(f)?;
    }
    // Error details travel in every error status: reflection clients need their types.
    compiler.open_file(root.join("google/rpc/error_details.proto"))?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("yibao_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .generate_default_stubs(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
