# nowmesh: nothing to do at boot; main.py starts the mesh. Kept minimal on
# purpose so that no change here can stop a board from reaching its REPL.
