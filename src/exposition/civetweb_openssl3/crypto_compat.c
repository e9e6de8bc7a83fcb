/* Built as "libcrypto.so" (its soname too): only a name for civetweb's
 * dlopen("libcrypto.so") that resolves to its dependency, the system's
 * libcrypto.so.3, without needing the -dev package's symlink at run time. */
int lle_crypto_compat_marker;
