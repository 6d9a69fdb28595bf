"""A tiny inventory package: the sample project Podium's demo works on."""
