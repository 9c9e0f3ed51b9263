# A role folder that is a symlink inside the repo is a role like any other
# (working tree and git commit alike); one that leaves the repo or loops
# is refused with an error on its path, never silently dropped.
. "$LEURA_SRC/tests/cli/lib.sh"
new_repo

# web's steps move behind a symlink: they stay, from the working tree and
# from a commit read through libgit2; only the resolved path of the file
# step's src changes (a file symlink is resolved the same way)
mkdir repo/shared
mv repo/roles/web repo/shared/web
ln -s ../shared/web repo/roles/web
run 0 "$LEURA" -C repo validate
expect_in out "3 roles"
run 2 "$LEURA" -C repo plan --from HEAD --worktree --detailed-exitcode
expect_in out "steps: 0 to add, 2 to change, 0 to remove, on 2 hosts"
expect_in out "src: roles/web/files/site.conf -> shared/web/files/site.conf"
commit_all "web role behind a symlink"
run 0 "$LEURA" -C repo validate --ref HEAD
expect_in out "3 roles"
run 2 "$LEURA" -C repo plan --from HEAD~1 --ref HEAD --detailed-exitcode
expect_in out "steps: 0 to add, 2 to change, 0 to remove, on 2 hosts"

# out of the repo: refused, by path, for both sources
mkdir outside
mv repo/shared/web outside/web
rm repo/roles/web
ln -s "$T/outside/web" repo/roles/web
run 1 "$LEURA" -C repo validate
expect_in err "roles/web: error: 'roles/web' is a symlink to '$T/outside/web', outside the repo"
expect_in err "hint: a role folder may be a symlink to a folder inside the repo only"
rm repo/roles/web
ln -s ../../outside/web repo/roles/web
run 1 "$LEURA" -C repo validate
expect_in err "roles/web: error: 'roles/web' leads outside the repo (through '..')"
commit_all "web role outside"
run 1 "$LEURA" -C repo validate --ref HEAD
expect_in err "roles/web: error: 'roles/web' leads outside the repo (through '..')"

# a loop
rm repo/roles/web
ln -s web repo/roles/web
run 1 "$LEURA" -C repo validate
expect_in err "roles/web: error: too many levels of symlinks resolving 'roles/web'"
done_testing
