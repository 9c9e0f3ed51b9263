# A file step's validate command (leura-spec(5), file): a broken new
# site.conf is refused before it replaces the working one, the step fails
# with the command's output, and the reload that follows it does not run;
# a good one replaces it and triggers the reload.
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {vars: {root: $ROOT}}
EOF
echo 'web: {}' >"$R/services.yml"
mkdir -p "$R/roles/web/files"
echo 'listen 80; good' >"$R/roles/web/files/site.conf"
cat >"$R/roles/web/role.yml" <<'EOF'
converge:
  - name: site
    file:
      src: files/site.conf
      dest: "{{ host.vars.root }}/site.conf"
      validate: "grep -q good %s || { echo syntax error in %s; exit 2; }"
  - name: reload
    script: cat {{ host.vars.root }}/site.conf >> {{ host.vars.root }}/reloads
    when_changed: [site]
EOF
commit_all init
apply
agent_start h1
wait_state h1 converged "$GEN"
expect_eq "site.conf" "$(cat "$ROOT/site.conf")" "listen 80; good"
expect_eq "reloads" "$(cat "$ROOT/reloads")" "listen 80; good"

# a broken one: refused, the old file stays, no reload
echo 'listen 80; bad' >"$R/roles/web/files/site.conf"
commit_all broken
apply
wait_state h1 failed "$GEN"
expect_eq "site.conf after a refused one" "$(cat "$ROOT/site.conf")" \
    "listen 80; good"
expect_eq "reloads" "$(cat "$ROOT/reloads")" "listen 80; good"
id=web/web/converge/site
expect_eq "status" "$(step h1 "$id" status)" failed
expect_has "error" "$(step h1 "$id" error)" "exited with status 2"
expect_has "error" "$(step h1 "$id" error)" "left as it was"
expect_has "output" "$(step h1 "$id" output)" "syntax error in $ROOT/.site.conf"
expect_has "failed_steps" "$(obs h1 .failed_steps[0].id)" "$id"
expect_eq "temporary files left" \
    "$(find "$ROOT" -name '.site.conf*' | wc -l)" 0

# repaired: written, reloaded
echo 'listen 8080; good' >"$R/roles/web/files/site.conf"
commit_all repaired
apply
wait_state h1 converged "$GEN"
expect_eq "site.conf" "$(cat "$ROOT/site.conf")" "listen 8080; good"
expect_eq "reloads" "$(tail -n 1 "$ROOT/reloads")" "listen 8080; good"
expect_eq "status" "$(step h1 "$id" status)" changed
agent_stop h1
done_testing
