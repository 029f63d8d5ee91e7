/* version.h - MINIDB_VERSION and MINIDB_COMMIT, which CMake defines for
 * every target (the build's version and git commit), with fallbacks for a
 * compile outside CMake. Read by --version (config.c), INFO (cmd_server.c) and
 * the minidb_build_info metric.
 */
#ifndef MINIDB_VERSION_H
#define MINIDB_VERSION_H

#ifndef MINIDB_VERSION
#define MINIDB_VERSION "0.0.0"
#endif
#ifndef MINIDB_COMMIT
#define MINIDB_COMMIT "unknown"
#endif

#endif
