//! Gives the `ephpm` binary an rpath to the libphp that php-sys linked (from DEP_PHP_LIB_DIR).

fn main() {
    if let Ok(lib_dir) = std::env::var("DEP_PHP_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
    println!("cargo:rerun-if-env-changed=DEP_PHP_LIB_DIR");
}
