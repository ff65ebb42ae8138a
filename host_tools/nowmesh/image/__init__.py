"""Per-node flash images: MicroPython firmware plus a ready LittleFS
filesystem, and emulated boards that boot from a flash file (docs/images.md).

- partitions: the ESP-IDF partition table (binary, at flash 0x8000)
- firmware:   a MicroPython .bin: bootloader, table, app and its esp_app_desc_t
- layout:     where MicroPython keeps its filesystem, by firmware version
- fsimage:    LittleFS images as MicroPython's VfsLfs2 writes and reads them
- build:      one image per node and the manifest (`nowmesh image`)
- flashboot:  an emulated board's power-on from its flash file
- download:   a node of a running emulated mesh re-flashed through ROM download mode
"""
