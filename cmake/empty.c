/* Keeps every module library non-empty while a folder has no sources yet (CMake refuses an
 * empty static library). Holds nothing. */
typedef int restpg_empty_translation_unit;
