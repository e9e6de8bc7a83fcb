# cmake -DINPUT=file -DOUTPUT=file.cc -DFUNCTION=Name -P EmbedText.cmake
# Writes a C++ file defining `const char* lle::FUNCTION()` that returns INPUT's text.
file(READ "${INPUT}" text)
set(delimiter "lle_embedded")
string(FIND "${text}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )${delimiter}\"")
endif()
file(WRITE "${OUTPUT}.tmp"
     "// Generated from ${INPUT} by cmake/EmbedText.cmake: do not edit.\n"
     "namespace lle {\nconst char* ${FUNCTION}() {\n  return R\"${delimiter}(${text})${delimiter}\";\n}\n}  // namespace lle\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
