/* trainer/export.h - symbol visibility for libtrainer's public API. */
#ifndef TRAINER_EXPORT_H
#define TRAINER_EXPORT_H

#if defined(TR_BUILDING_LIBRARY)
#define TR_API __attribute__((visibility("default")))
#else
#define TR_API
#endif

/* A plugin's entry symbol must be visible even when the plugin is built with
 * hidden visibility. */
#define TR_PLUGIN_EXPORT __attribute__((visibility("default")))

#ifdef __cplusplus
#define TR_EXTERN_C_BEGIN extern "C" {
#define TR_EXTERN_C_END }
#else
#define TR_EXTERN_C_BEGIN
#define TR_EXTERN_C_END
#endif

#endif
