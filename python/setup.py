"""Builds the wheel's native module with the project's CMake build (see README.md here).

ENCORE_BUILD_DIR reuses an existing CMake build folder (e.g. the project's build/); otherwise
a Release build of the module alone goes to build-wheel/ beside this file. ENCORE_SOURCE_DIR
names the project root when this folder was copied elsewhere.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
SOURCE = Path(os.environ.get("ENCORE_SOURCE_DIR", HERE.parent)).resolve()


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = Path(os.environ.get("ENCORE_BUILD_DIR", HERE / "build-wheel")).resolve()
        if not (build_dir / "CMakeCache.txt").exists():
            subprocess.check_call(["cmake", "-S", str(SOURCE), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
                                   "-DENCORE_BUILD_TESTS=OFF", "-DENCORE_BUILD_BENCH=OFF",
                                   f"-DPython_EXECUTABLE={sys.executable}"])
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "_encore", "-j",
                               str(os.cpu_count() or 2)])
        built = sorted((build_dir / "python/encore").glob("_encore*.so"))
        if not built:
            raise RuntimeError(f"no _encore module in {build_dir}/python/encore after the build")
        dest = Path(self.get_ext_fullpath(ext.name))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[0], dest)


setup(ext_modules=[Extension("encore._encore", sources=[])], cmdclass={"build_ext": CMakeBuild})
