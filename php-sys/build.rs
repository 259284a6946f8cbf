//! Builds the C SAPI shim against the ZTS libphp made by `scripts/build-php.sh`, generates
//! bindings for the shim's header with bindgen, and links libphp.
//!
//! The PHP install prefix comes from `EPHPM_PHP_PREFIX`, else `<workspace>/.cache/php/current`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let prefix = php_prefix();
    let php_config = prefix.join("bin/php-config");
    if !php_config.exists() {
        panic!(
            "libphp not found at {} (run scripts/build-php.sh, or set EPHPM_PHP_PREFIX)",
            prefix.display()
        );
    }
    let includes = php_config_value(&php_config, "--includes");
    let extension_dir = php_config_value(&php_config, "--extension-dir");
    let version = php_config_value(&php_config, "--version");

    compile_shim(&includes);
    generate_bindings();
    link_libphp(&prefix);

    println!("cargo:rustc-env=EPHPM_PHP_EXTENSION_DIR={extension_dir}");
    println!("cargo:rustc-env=EPHPM_PHP_BUILD_VERSION={version}");
    // Dependents read this as DEP_PHP_LIB_DIR to set their binary's rpath.
    println!("cargo:lib_dir={}", prefix.join("lib").display());
    println!("cargo:rerun-if-env-changed=EPHPM_PHP_PREFIX");
    println!("cargo:rerun-if-changed=csrc/ephpm_sapi.c");
    println!("cargo:rerun-if-changed=csrc/ephpm_sapi.h");
    println!(
        "cargo:rerun-if-changed={}",
        prefix.join("lib/libphp.so").display()
    );
    // scripts/build-php.sh rewrites this file whenever `current` moves to another build.
    println!(
        "cargo:rerun-if-changed={}",
        cache_dir().join("current.hash").display()
    );
}

fn php_prefix() -> PathBuf {
    if let Some(prefix) = env::var_os("EPHPM_PHP_PREFIX") {
        return PathBuf::from(prefix);
    }
    let current = cache_dir().join("current");
    current.canonicalize().unwrap_or(current)
}

/// `<workspace>/.cache/php`, where scripts/build-php.sh installs PHP builds.
fn cache_dir() -> PathBuf {
    let manifest =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    manifest.join("../.cache/php")
}

fn php_config_value(php_config: &Path, option: &str) -> String {
    let output = Command::new(php_config)
        .arg(option)
        .output()
        .unwrap_or_else(|err| panic!("running {} {option}: {err}", php_config.display()));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn compile_shim(includes: &str) {
    let mut build = cc::Build::new();
    build
        .file("csrc/ephpm_sapi.c")
        .include("csrc")
        .define("ZEND_ENABLE_STATIC_TSRMLS_CACHE", "1")
        .flag_if_supported("-Wno-unused-parameter")
        .opt_level(2);
    for include in includes.split_whitespace() {
        build.include(include.trim_start_matches("-I"));
    }
    build.compile("ephpm_sapi");
}

fn generate_bindings() {
    let bindings = bindgen::Builder::default()
        .header("csrc/ephpm_sapi.h")
        .allowlist_function("ephpm_.*")
        .allowlist_type("ephpm_.*")
        .generate()
        .expect("bindgen failed on csrc/ephpm_sapi.h");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("writing bindings.rs");
}

fn link_libphp(prefix: &Path) {
    let lib_dir = prefix.join("lib");
    println!("cargo:rustc-link-search=native={}", lib_dir.display());
    println!("cargo:rustc-link-lib=dylib=php");
    // For this crate's own tests; the ephpm binary sets its rpath from DEP_PHP_LIB_DIR.
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
}
