# Emulation-only `flashbdev`, as ports/esp32/modules/flashbdev.py: the block
# device of the "vfs" partition that the frozen _boot.py mounts as "/".
from esp32 import Partition

bdev = Partition.find(Partition.TYPE_DATA, label="vfs")
bdev = bdev[0] if bdev else None
