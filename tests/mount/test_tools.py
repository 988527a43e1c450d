"""Writing is importing, with the tools people use: each must import with
exit status 0, and report a refusal with a non-zero one."""
import errno
import os
import shutil
import threading

import pytest

NAME = "Demo Vault (synthetic)"


def imported(m, name=NAME, epoch=b"1"):
    share = m / name / "share.vult"
    return share.exists() and os.getxattr(share, "user.vult.epoch") == epoch


def only_vaults(m, *names):
    assert sorted(os.listdir(m.mnt)) == sorted(names)


def test_cp(m, vaults, lib):
    src = vaults.make()
    lib.run(["cp", src, m.mnt])
    assert imported(m)
    only_vaults(m, NAME)


def test_cp_p_onto_share(m, vaults, lib):
    gen1 = vaults.make()
    gen2 = vaults.make(from_=gen1, signers="demo-device-1,demo-device-9", tag="x")
    lib.run(["cp", "-p", gen1, m.mnt])
    lib.run(["cp", "-p", gen2, m / NAME / "share.vult"])
    assert imported(m, epoch=b"2")


def test_cp_refusal(m, vaults, lib):
    m.expect(r"import of /b\.vult: co-location")
    a = vaults.make()
    b = vaults.make(from_=a, device="demo-device-2", out="b.vult")
    lib.run(["cp", a, m.mnt])
    r = lib.run(["cp", b, m.mnt], check=False)
    assert r.returncode == 1 and "Operation not permitted" in r.stderr


def test_cp_r_vault_directory(m, vaults, lib, tmp_path):
    d = tmp_path / NAME
    d.mkdir()
    vaults.make(out=str(d / "share.vult"))
    lib.run(["cp", "-r", d, m.mnt])
    assert imported(m)


def test_cp_a_and_mv_from_other_filesystem(m, vaults, lib, tmp_path):
    a = vaults.make()
    lib.run(["cp", "-a", a, m / "copied.vult"])
    assert imported(m)
    b = vaults.make(name="Moved", ecdsa=lib.ecdsa(2))
    lib.run(["mv", b, m.mnt])
    assert not b.exists()
    assert imported(m, "Moved")
    only_vaults(m, NAME, "Moved")


@pytest.mark.parametrize("flags", ["-a", "-aX"])
def test_rsync(m, vaults, lib, flags):
    src = vaults.make()
    lib.run(["rsync", flags, src, m / "x.vult"])
    assert imported(m)
    only_vaults(m, NAME)  # no temporary left behind


def test_rsync_refusal(m, vaults, lib):
    m.expect(r"import of /bad\.vult: unreadable")
    bad = vaults.where / "bad.vult"
    bad.write_text("not a backup")
    r = lib.run(["rsync", "-a", bad, m.mnt], check=False)
    assert r.returncode != 0 and "Invalid argument" in r.stderr
    only_vaults(m)


@pytest.mark.parametrize("flags", ["-x", "--xattrs -x"])
def test_tar(m, vaults, lib, tmp_path, flags):
    vaults.make(out="t.vult")
    tarball = tmp_path / "t.tar"
    lib.run(["tar", "-C", vaults.where, "-cf", tarball, "t.vult"])
    lib.run(["tar", *flags.split(), "-C", m.mnt, "-f", tarball])
    assert imported(m)
    only_vaults(m, NAME)


def test_tar_refusal(m, vaults, lib, tmp_path):
    m.expect(r"import of /inc\.vult: incomplete")
    vaults.make("--incomplete", out="inc.vult")
    tarball = tmp_path / "t.tar"
    lib.run(["tar", "-C", vaults.where, "-cf", tarball, "inc.vult"])
    r = lib.run(["tar", "-x", "-C", m.mnt, "-f", tarball], check=False)
    assert r.returncode != 0 and "Invalid argument" in r.stderr


@pytest.mark.skipif(shutil.which("gio") is None, reason="gio (libglib2.0-bin) missing")
def test_gio_copy(m, vaults, lib):
    gen1 = vaults.make()
    gen2 = vaults.make(from_=gen1, signers="demo-device-1,demo-device-9", tag="x")
    lib.run(["gio", "copy", gen1, m.mnt])
    assert imported(m)
    # replacing an existing file: GIO writes .goutputstream-XXXXXX and renames
    lib.run(["gio", "copy", "--preserve", gen2, m / NAME / "share.vult"])
    assert imported(m, epoch=b"2")
    m.expect(r"import of /.*: stale")
    r = lib.run(["gio", "copy", gen1, m / "again.vult"], check=False)
    assert r.returncode != 0 and "File exists" in r.stderr


def test_kde_part_then_rename(m, vaults, lib):
    data = vaults.make().read_bytes()
    part = m / "x.vult.part"
    assert lib.write_close(part, data) is None
    assert "x.vult.part" in os.listdir(m.mnt)  # staged, not imported
    assert part.stat().st_size == len(data)
    os.rename(part, m / "x.vult")
    assert imported(m)
    only_vaults(m, NAME)


def test_rename_reports_refusal(m, vaults, lib):
    m.expect(r"import of /x\.vult: incomplete")
    data = vaults.make("--incomplete").read_bytes()
    assert lib.write_close(m / ".x.vult.AbCdEf", data) is None
    with pytest.raises(OSError) as err:
        os.rename(m / ".x.vult.AbCdEf", m / "x.vult")
    assert err.value.errno == errno.EINVAL
    os.unlink(m / ".x.vult.AbCdEf")
    only_vaults(m)


def test_shell_redirection(m, vaults, lib):
    src = vaults.make()
    lib.run(["sh", "-c", 'cat "$1" > "$2"', "sh", src, m / "r.vult"])
    assert imported(m)
    lib.run(["sh", "-c", 'exec 3>"$2"; cat "$1" >&3; exec 3>&-', "sh", src, m / "r2.vult"])
    only_vaults(m, NAME)
    assert m.log_has(r"import of /r2\.vult: unchanged")


def test_temporaries_stay_staged_and_vanish(m, vaults, lib):
    data = vaults.make().read_bytes()
    for name in (".hidden.XXXXXX", "y.vult.part", "z.vult~"):
        assert lib.write_close(m / name, data) is None
    assert sorted(os.listdir(m.mnt)) == [".hidden.XXXXXX", "y.vult.part", "z.vult~"]
    assert (m / "y.vult.part").read_bytes() == data
    os.utime(m / "y.vult.part", (0, 0))
    os.chmod(m / "y.vult.part", 0o644)
    os.setxattr(m / "y.vult.part", "user.vult.epoch", b"7")
    os.unlink(m / "z.vult~")
    m.restart()
    only_vaults(m)  # leftovers never reach the store


def test_metadata_on_new_and_existing_files(m, vaults, lib):
    src = vaults.make()
    lib.run(["cp", src, m.mnt])
    share = m / NAME / "share.vult"
    for p in (share, m / NAME, m / NAME / "vault.json"):
        os.utime(p, (1, 1))
        os.chmod(p, 0o644)
        os.chown(p, 0, 0)
    st = share.stat()
    assert st.st_mode & 0o777 == 0o600  # accepted and ignored


def test_deleting_is_refused(m, vaults, lib):
    lib.run(["cp", vaults.make(), m.mnt])
    for op, path in ((os.unlink, m / NAME / "share.vult"), (os.unlink, m / NAME / "vault.json"),
                     (os.rmdir, m / NAME), (os.rmdir, m / NAME / "history")):
        with pytest.raises(OSError) as err:
            op(path)
        assert err.value.errno == errno.EPERM, (op, path)
    for src, dst in ((m / NAME, m / "Renamed"), (m / NAME / "share.vult", m / "x.vult")):
        with pytest.raises(OSError) as err:
            os.rename(src, dst)
        assert err.value.errno == errno.EPERM
    r = lib.run(["rm", "-rf", m / NAME], check=False)
    assert r.returncode != 0
    assert imported(m)


def test_mkdir_placeholder(m, lib):
    os.mkdir(m / "New")
    os.mkdir(m / "New" / "history")
    with pytest.raises(OSError) as err:
        os.mkdir(m / "New" / "other")
    assert err.value.errno == errno.EPERM
    assert os.listdir(m / "New") == ["history"]
    os.mkdir(m / "Empty")
    os.rmdir(m / "Empty")
    m.restart()
    only_vaults(m)  # empty new directories disappear at unmount


def test_concurrent_writers(m, vaults, lib):
    srcs = [vaults.make(name=f"Vault {i}", ecdsa=lib.ecdsa(100 + i)).read_bytes()
            for i in range(6)]
    results = {}

    def writer(i):
        results[i] = lib.write_close(m / f"w{i}.vult", srcs[i])

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(results[i] is None for i in range(6)), results
    only_vaults(m, *(f"Vault {i}" for i in range(6)))


def test_two_writers_same_name(m, vaults, lib):
    a = vaults.make().read_bytes()
    b = vaults.make(name="Second", ecdsa=lib.ecdsa(5)).read_bytes()
    fa = os.open(m / "same.vult", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    fb = os.open(m / "same.vult", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    # interleaved chunks: each open has its own buffer, so both import
    for i in range(0, max(len(a), len(b)), 100):
        if i < len(a):
            os.pwrite(fa, a[i:i + 100], i)
        if i < len(b):
            os.pwrite(fb, b[i:i + 100], i)
    os.close(fa)
    os.close(fb)
    only_vaults(m, NAME, "Second")
