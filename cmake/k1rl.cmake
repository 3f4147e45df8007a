# Helpers that keep each folder's CMakeLists.txt to a few lines.
#   k1rl_module(name DEPS ...)            lib/<name>/*.cpp -> static library k1rl::<name>
#   k1rl_app(name DEPS ...)               apps/<name>/*.cpp -> executable k1rl-<name>
#   k1rl_test(name SOURCES ... DEPS ... [MPI n] [LABELS ...])  a GoogleTest executable + ctest entries

set(K1RL_WARNINGS -Wall -Wextra -Wno-unused-parameter)

# Adds every direct subfolder of <dir> that has a CMakeLists.txt.
function(k1rl_add_subdirs dir)
  file(GLOB children LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR}/${dir}
       ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*)
  list(SORT children)
  foreach(child IN LISTS children)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/${child}/CMakeLists.txt)
      add_subdirectory(${dir}/${child})
    endif()
  endforeach()
endfunction()

function(k1rl_target_defaults target)
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${K1RL_WARNINGS}>)
  if(K1RL_NATIVE)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
  endif()
endfunction()

function(k1rl_module name)
  cmake_parse_arguments(M "" "" "DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(NOT srcs)  # a header-only module (or one whose sources are not written yet)
    add_library(k1rl_${name} INTERFACE)
    add_library(k1rl::${name} ALIAS k1rl_${name})
    target_include_directories(k1rl_${name} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(k1rl_${name} INTERFACE ${M_DEPS})
    return()
  endif()
  add_library(k1rl_${name} STATIC ${srcs})
  add_library(k1rl::${name} ALIAS k1rl_${name})
  k1rl_target_defaults(k1rl_${name})
  target_link_libraries(k1rl_${name} PUBLIC ${M_DEPS})
endfunction()

function(k1rl_app name)
  cmake_parse_arguments(A "" "" "DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  add_executable(k1rl-${name} ${srcs})
  k1rl_target_defaults(k1rl-${name})
  target_link_libraries(k1rl-${name} PRIVATE ${A_DEPS})
  install(TARGETS k1rl-${name} RUNTIME DESTINATION bin)
endfunction()

# MPI tests run under mpiexec -n <n>; others are split into one ctest entry per test case.
function(k1rl_test name)
  cmake_parse_arguments(T "" "MPI;TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  k1rl_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(T_MPI)
    add_test(NAME ${name} COMMAND ${MPIEXEC_EXECUTABLE} -n ${T_MPI} $<TARGET_FILE:${name}>)
    set_tests_properties(${name} PROPERTIES LABELS "mpi;${T_LABELS}" TIMEOUT ${T_TIMEOUT}
                         PROCESSORS ${T_MPI})
  else()
    include(GoogleTest)
    gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST
                         PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
  endif()
endfunction()
