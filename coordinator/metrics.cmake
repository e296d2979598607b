# Prometheus metrics (--metrics-listen): libmicrohttpd, as Debian ships it.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(MHD QUIET IMPORTED_TARGET libmicrohttpd)
endif()
baton_require(MHD_FOUND libmicrohttpd-dev "libmicrohttpd")
add_library(baton_metrics STATIC metrics.c metrics_text.c)
target_include_directories(baton_metrics PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(baton_metrics PUBLIC baton_table PkgConfig::MHD Threads::Threads)
