# embed.cmake - turn a data file into a C array (IN, OUT, SYM).
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" body "${body}")
file(WRITE ${OUT} "/* generated from ${IN}: do not edit */\n#include <stddef.h>\nconst char ${SYM}[] = {\n${body}0x00};\nconst size_t ${SYM}_len = ${bytes};\n")
