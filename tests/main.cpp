// The one Catch2 test binary's main; tests live one file per topic.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
