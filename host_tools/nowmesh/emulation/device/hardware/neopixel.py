# Emulation-only `neopixel`: keeps the colours a program sets (no light here).


class NeoPixel:
    def __init__(self, pin, n, bpp=3, timing=1):
        self.pin = pin
        self.n = n
        self.pixels = [(0, 0, 0)] * n
        self.writes = 0

    def __setitem__(self, index, colour):
        self.pixels[index] = colour

    def __getitem__(self, index):
        return self.pixels[index]

    def __len__(self):
        return self.n

    def fill(self, colour):
        self.pixels = [colour] * self.n

    def write(self):
        self.writes += 1
