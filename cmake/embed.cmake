# Writes OUT, a C header holding the bytes of each input file as an array named after it:
#   cmake -DOUT=x.h -DINPUTS="name1=file1;name2=file2" -P embed.cmake
set(text "/* Generated from the shipped configuration by cmake/embed.cmake. */\n")
foreach(pair ${INPUTS})
  string(REPLACE "=" ";" parts "${pair}")
  list(GET parts 0 name)
  list(GET parts 1 file)
  file(READ "${file}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND text "static const unsigned char ${name}[] = {${bytes}};\n")
endforeach()
file(WRITE "${OUT}" "${text}")
